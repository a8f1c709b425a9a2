"""Durable storage: the write-ahead log, segment files of sealed chunks, the manifest.

Modules, from bytes up:

- :mod:`~tsengine.storage.walformat` -- byte layout and validating scan of log files;
- :mod:`~tsengine.storage.records` -- payloads of log records (definitions, writes);
- :mod:`~tsengine.storage.wal` -- the log itself: append, durability modes, replay;
- :mod:`~tsengine.storage.segmentformat` -- byte layout of segment files, chunk records;
- :mod:`~tsengine.storage.segment` -- writing and reading those immutable files;
- :mod:`~tsengine.storage.manifest` -- the directory layout and its atomic manifest;
- :mod:`~tsengine.storage.blocks` -- series rows to encoded segment chunks and back;
- :mod:`~tsengine.storage.durable` -- ``DurableStore``, what ``Engine(path)`` calls;
- :mod:`~tsengine.storage.recovery` -- opening: segments into the engine, log replay;
- :mod:`~tsengine.storage.diagnostics` -- the warning category and located errors.
"""

from tsengine.storage.diagnostics import (
    StorageError,
    StorageFormatError,
    StorageWarning,
)

__all__ = ["StorageError", "StorageFormatError", "StorageWarning"]

"""How the storage layer reports trouble: a warning category and located errors.

Soft problems that recovery repairs on its own (a torn last log record cut off) are
:class:`StorageWarning` warnings. Damage that loses data is a
:class:`tsengine.errors.CorruptionError` naming the file and the byte offset; at open
these are collected in a list rather than raised, so a damaged engine still opens.
"""

from __future__ import annotations

from pathlib import Path

from tsengine.errors import CorruptionError, Error


class StorageWarning(UserWarning):
    """A storage problem that was repaired on its own (for example a torn log tail)."""


class StorageError(Error, OSError):
    """The storage layer can no longer keep its durability promise (a failed fsync).

    After an fsync failure the kernel may have dropped dirty pages, so nothing written
    since the last successful fsync can be trusted to be on disk; every later append
    raises this error instead of acknowledging data that might be lost.
    """


class StorageFormatError(CorruptionError):
    """A file was written by a newer, unknown version of the on-disk format."""


def corruption(path: str | Path, offset: int, detail: str) -> CorruptionError:
    """Build a :class:`CorruptionError` that names the file and byte offset.

    Parameters
    ----------
    path : str or Path
        The damaged file.
    offset : int
        Byte offset in ``path`` where the damaged record or block starts.
    detail : str
        What is wrong there, e.g. ``"payload crc32 mismatch"``.

    Returns
    -------
    CorruptionError
        With attributes ``path`` (str), ``offset`` (int) and ``detail`` (str) so that
        callers can report or act on the location without parsing the message.

    Examples
    --------
    >>> err = corruption("wal/1.wal", 40, "payload crc32 mismatch")
    >>> str(err)
    "'wal/1.wal' at byte offset 40: payload crc32 mismatch"
    >>> err.offset
    40
    """
    err = CorruptionError(f"{str(path)!r} at byte offset {offset}: {detail}")
    err.path = str(path)
    err.offset = offset
    err.detail = detail
    return err

"""Rollup definitions of a durable engine, kept in ``rollups.json`` in its directory.

The file is small and rewritten whole, atomically (temporary file, fsync, rename,
directory fsync), whenever a rollup is created or dropped, and when a rollup's
*closed frontier* must be remembered (see :mod:`tsengine.rollup.live`). Layout::

    {"version": 1,
     "rollups": {"pump_1s": {"spec": {...create_rollup arguments...},
                             "frontier": 1234 | null}}}

``frontier`` is a window index: every window before it had closed when it was
written. A missing file means no rollups; a damaged one is a
:class:`~tsengine.errors.CorruptionError` naming the file.
"""

from __future__ import annotations

import json
from pathlib import Path

from tsengine.errors import CorruptionError
from tsengine.storage._fsio import atomic_write

FILE_NAME = "rollups.json"
VERSION = 1


class Catalog:
    """The rollups file of one engine directory.

    Parameters
    ----------
    directory : str or Path
        The engine directory (``Engine(path)``).
    """

    def __init__(self, directory) -> None:
        self.path = Path(directory) / FILE_NAME

    def load(self) -> dict[str, dict]:
        """Rollup name to ``{"spec": ..., "frontier": ...}``; empty without a file.

        Raises
        ------
        CorruptionError
            If the file is not the JSON this module writes.
        """
        try:
            text = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        try:
            data = json.loads(text)
            if data.get("version") != VERSION or not isinstance(data["rollups"], dict):
                raise ValueError(f"unknown version {data.get('version')!r}")
            for entry in data["rollups"].values():
                if not isinstance(entry.get("spec"), dict):
                    raise ValueError("an entry lacks its spec")
        except (ValueError, KeyError, AttributeError, TypeError) as exc:
            # Refuse rather than open without them: the next create_rollup would
            # overwrite the file and lose every definition for good.
            raise CorruptionError(
                f"rollup definitions {str(self.path)!r} are damaged: {exc}; the "
                "data is intact: move the file aside to open the engine without "
                "its rollups (their tables stay readable) and create them again"
            ) from None
        return data["rollups"]

    def save(self, rollups: dict[str, dict]) -> None:
        """Replace the file with ``rollups`` (atomic and durable)."""
        body = json.dumps(
            {"version": VERSION, "rollups": rollups}, indent=1, sort_keys=True
        )
        atomic_write(self.path, [body.encode()])

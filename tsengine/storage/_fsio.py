"""Small file-system steps that crash safety rests on: fsync a directory, replace a
file atomically.

``os.fsync`` is looked up on the ``os`` module at each call so that tests can count
calls by monkeypatching it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path


def fsync_dir(directory: str | Path) -> None:
    """Make the entries of ``directory`` (creations, renames, deletions) durable.

    A rename is only durable once the directory that holds it is fsynced; the data of
    the renamed file needs its own fsync before the rename.
    """
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


#: Small parts are gathered up to this many bytes per write() call.
_COALESCE_BYTES = 1 << 20


def _write_view(fd: int, view: memoryview) -> None:
    while view:
        view = view[os.write(fd, view) :]


def write_all(fd: int, parts: Iterable[bytes | memoryview]) -> int:
    """Write every byte of ``parts`` to ``fd``, retrying short writes.

    Small parts are gathered so that many tiny blocks cost few system calls.

    Returns
    -------
    int
        Number of bytes written.
    """
    total = 0
    pending = bytearray()
    for part in parts:
        view = memoryview(part).cast("B")
        total += view.nbytes
        if view.nbytes >= _COALESCE_BYTES:
            _write_view(fd, memoryview(pending))
            pending = bytearray()
            _write_view(fd, view)
            continue
        pending += view
        if len(pending) >= _COALESCE_BYTES:
            _write_view(fd, memoryview(pending))
            pending = bytearray()
    _write_view(fd, memoryview(pending))
    return total


def atomic_write(path: str | Path, parts: Iterable[bytes | memoryview]) -> int:
    """Replace ``path`` with the concatenation of ``parts``, atomically and durably.

    Recipe: write a temporary file in the same directory, fsync it, rename it over
    ``path``, fsync the directory. A crash at any moment leaves either the old file
    or the new one, never a mix; a leftover temporary file is harmless.

    Returns
    -------
    int
        Size of the new file in bytes.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        size = write_all(fd, parts)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)
    return size

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


#: Buffers handed to one ``writev`` call at most (Linux IOV_MAX is 1024).
_IOV_MAX = 1024


def write_all(fd: int, parts: Iterable[bytes | memoryview]) -> int:
    """Write every byte of ``parts`` to ``fd`` with ``writev``, retrying short writes.

    The parts are not copied or joined: many small blocks and one large payload
    cost the same few system calls.

    Returns
    -------
    int
        Number of bytes written.
    """
    views = [v for v in (memoryview(p).cast("B") for p in parts) if v.nbytes]
    total = sum(v.nbytes for v in views)
    first = 0
    while first < len(views):
        written = os.writev(fd, views[first : first + _IOV_MAX])
        # Drop what was written: whole views, then the front of a partial one
        while first < len(views) and written >= views[first].nbytes:
            written -= views[first].nbytes
            first += 1
        if written:
            views[first] = views[first][written:]
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

"""Checkpoints: capture the engine's state and commit it as segments plus a manifest.

A checkpoint at log sequence ``seq`` must leave, in the segments the new manifest
names, exactly the data of every record up to ``seq``: each sealed chunk of the
engine once, and a snapshot of every ring. Sealed chunks never change, so one already
in a live segment is not written again (tracked by object identity, the chunk held so
the identity cannot be reused). Chunks the merge path replaced, and ring snapshots of
earlier checkpoints, become dead space; a segment under half live, or the smaller half
once there are too many files, is dropped and its live chunks are written again from
memory.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from tsengine.core.merge import Rows
from tsengine.storage._fsio import fsync_dir
from tsengine.storage.blocks import encoded_to_chunk, rows_to_chunks
from tsengine.storage.manifest import (
    Manifest,
    SegmentRecord,
    save_manifest,
    segment_name,
)
from tsengine.storage.segment import write_segment

#: Live segment files at which a checkpoint folds the smaller half into its new one.
MAX_SEGMENTS = 8

#: What a capture holds per series: (table, series key, [(field, kind)], data).
Item = tuple[str, tuple, list, object]


def capture(engine) -> tuple[list[Item], list[Item]]:
    """Sealed chunks (shared, immutable) and ring copies of every series.

    The caller holds the engine's write lock, so the result matches the log exactly.
    """
    sealed, hot = [], []
    for name, table in list(engine._tables.items()):
        with table.lock:
            fields = list(table.definition.fields.items())
            for key, buf in table.series.items():
                for chunk in buf.sealed:
                    sealed.append((name, key, fields[: len(chunk.kinds)], chunk))
                if buf.count:
                    rows = Rows(*buf.copy_range(buf.head, buf.count, 0, buf.count))
                    hot.append((name, key, fields[: len(rows.cols)], rows))
    return sealed, hot


def merged_definitions(engine, logged: dict) -> dict:
    """Table definitions to commit: the engine's, or the logged one where it has
    more columns (a grown definition is logged before the engine applies it)."""
    merged = {}
    for name, table in list(engine._tables.items()):
        merged[name] = table.definition.to_dict()
    for name, definition in logged.items():
        current = merged.get(name)
        size = len(definition["tags"]) + len(definition["fields"])
        if current is None or size >= len(current["tags"]) + len(current["fields"]):
            merged[name] = definition
    return merged


class SegmentCatalog:
    """The segment files of one engine directory and what they hold.

    Parameters
    ----------
    directory : Path
        The ``segments/`` directory.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        #: file -> {chunk offset: (table, bytes)} for every chunk of every file.
        self.contents: dict[str, dict[int, tuple[str, int]]] = {}
        #: Files found damaged at open: set aside, not deleted, when retired.
        self.damaged: set[str] = set()
        #: Bytes the ring snapshots took in the last checkpoint.
        self.last_hot_bytes = 0
        # id(sealed chunk) -> (chunk, file, offsets of the segment chunks holding it)
        self._located: dict[int, tuple[object, str, tuple[int, ...]]] = {}

    def add_recovered(self, name: str, contents: dict | None, damaged: bool) -> None:
        """Register a segment read at open (None: it could not be opened)."""
        self.contents[name] = contents or {}
        if damaged or contents is None:
            self.damaged.add(name)

    def commit(
        self,
        manifest: Manifest,
        seq: int,
        sealed: list[Item],
        hot: list[Item],
        definitions: dict,
        twin_of=None,
    ) -> Manifest:
        """Write a new segment and the manifest for a captured state; return it.

        ``twin_of(chunk)``, when given, returns the encoded twin of a sealed chunk
        the engine has not compressed yet (the compactor's, shared with the engine),
        so the segment gets compressed blocks instead of raw arrays.

        On failure the previous manifest stays in force and no referenced file is
        touched, so a later checkpoint can simply try again.
        """
        # Segments at least half live stay; the others' live chunks are rewritten
        live: dict[str, set[int]] = {f: set() for f in self.contents}
        for item in sealed:
            where = self._where(item[3])
            if where is not None:
                live[where[1]].update(where[2])
        keep = {f for f, offsets in live.items() if self._mostly_live(f, offsets)}
        if len(keep) >= MAX_SEGMENTS:
            by_size = sorted(keep, key=self._size)
            keep -= set(by_size[: len(keep) - MAX_SEGMENTS // 2])
        stays, fresh = [], []
        for item in sealed:
            where = self._where(item[3])
            (stays if where is not None and where[1] in keep else fresh).append(item)
        located = {id(item[3]): self._located[id(item[3])] for item in stays}

        # Kept segments with their dead chunks listed, then one new segment
        segments = [
            SegmentRecord(
                r.file,
                r.size,
                r.chunks,
                r.tables,
                sorted(set(self.contents[r.file]) - live[r.file]),
            )
            for r in manifest.segments
            if r.file in keep
        ]
        drop = [f for f in self.contents if f not in keep]
        number = manifest.next_segment
        new_name = segment_name(number) if fresh or hot else None
        try:
            if new_name is not None:
                number += 1
                record, offsets, written = self._write(new_name, fresh, hot, twin_of)
                segments.append(record)
                for item, at, chunk in zip(fresh, offsets, written, strict=True):
                    # The captured chunk and the twin written for it are the same
                    # data: whichever the engine holds next time counts as on disk
                    located[id(item[3])] = (item[3], new_name, at)
                    located[id(chunk)] = (chunk, new_name, at)

            # Commit point: from here on, the new manifest is what recovery reads
            manifest = Manifest(definitions, segments, seq, number)
            save_manifest(self.directory.parent, manifest)
        except BaseException:
            if new_name is not None and self.contents.pop(new_name, None) is not None:
                (self.directory / new_name).unlink(missing_ok=True)
            raise

        # Forget what the new manifest no longer references
        self._located = located
        for name in drop:
            self._retire(name)
        fsync_dir(self.directory)
        return manifest

    def _where(self, chunk) -> tuple | None:
        where = self._located.get(id(chunk))
        return where if where is not None and where[0] is chunk else None

    def _size(self, name: str) -> int:
        return sum(size for _, size in self.contents[name].values())

    def _mostly_live(self, name: str, offsets: set[int]) -> bool:
        sizes = self.contents[name]
        return 2 * sum(sizes[o][1] for o in offsets) >= self._size(name) > 0

    def _write(self, name: str, fresh: list[Item], hot: list[Item], twin_of) -> tuple:
        """Write sealed chunks then ring snapshots; return the manifest record, per
        sealed chunk the offsets of the segment chunks holding it, and per sealed
        chunk the object written (the captured chunk or its encoded twin)."""
        # Newest first: the compactor works oldest first, so the two threads meet
        # once instead of encoding the same chunks side by side
        written = [_encoded(item[3], twin_of) for item in reversed(fresh)][::-1]
        pieces = [
            _sealed_chunks(t, k, f, chunk)
            for (t, k, f, _), chunk in zip(fresh, written, strict=True)
        ]
        chunks = [piece for group in pieces for piece in group]
        sealed_count = len(chunks)
        for t, k, f, r in hot:
            chunks += rows_to_chunks(t, k, r, f, hot=True, fast=True)
        path = self.directory / name
        size, entries = write_segment(path, chunks)

        # Bookkeeping for later checkpoints and for stats()
        self.contents[name] = {e.offset: (e.table, e.end - e.offset) for e in entries}
        self.last_hot_bytes = sum(e.end - e.offset for e in entries[sealed_count:])
        per_table: dict[str, int] = {}
        for e in entries:
            per_table[e.table] = per_table.get(e.table, 0) + e.end - e.offset
        offsets, at = [], 0
        for group in pieces:
            offsets.append(tuple(e.offset for e in entries[at : at + len(group)]))
            at += len(group)
        return SegmentRecord(name, size, len(entries), per_table, []), offsets, written

    def _retire(self, name: str) -> None:
        # A damaged file is kept aside for inspection rather than deleted
        path = self.directory / name
        if name in self.damaged:
            # (a segment found missing at open has nothing to keep aside)
            with contextlib.suppress(FileNotFoundError):
                path.replace(path.with_name(name + ".damaged"))
        else:
            path.unlink(missing_ok=True)
        del self.contents[name]


def _encoded(chunk, twin_of):
    """``chunk``'s encoded twin when one can be had, else ``chunk`` itself."""
    if twin_of is None or getattr(chunk, "encoded", True):
        return chunk
    try:
        return twin_of(chunk)
    except Exception:  # written plain below; the engine's compactor retries
        return chunk


def _sealed_chunks(table: str, key: tuple, fields: list, chunk) -> list:
    # Compressed by the engine: its blocks go to disk as they are. Not compressed
    # yet: stored cheaply; the compressed twin replaces it at a later checkpoint
    done = encoded_to_chunk(table, key, chunk, fields)
    if done is not None:
        return [done]
    plain = getattr(chunk, "encoded", True) is False
    return rows_to_chunks(table, key, chunk.rows(), fields, hot=False, fast=plain)

"""The durable tier behind ``Engine(path)``: log every change, checkpoint, recover.

How data reaches the disk:

1. Every table definition and every write call is one log record
   (:meth:`DurableStore.log_create_table`, :meth:`DurableStore.log_write`), appended
   before the engine applies it in memory. ``durability`` decides when it is fsynced.
2. A checkpoint captures the engine under its write lock: the sealed chunks not yet on
   disk and a snapshot of every ring. It writes them to one new segment file, then the
   manifest naming the live segments and the log sequence they cover, then deletes the
   log files that sequence covers. Sealed chunks are immutable, so each is written
   once; a ring snapshot is replaced by the next checkpoint's. Segments whose live
   bytes fall under half are dropped and their live chunks rewritten from memory.
3. Checkpoints run on :meth:`checkpoint` (engine ``flush()``/``close()``) and when
   the log has grown by ``checkpoint_bytes`` (or twice the last ring snapshot, if
   larger, so rewriting rings costs at most half the log volume).
4. Opening loads the manifest, feeds every live chunk to the engine, then replays the
   log records after the manifest's sequence. Damage is reported in :attr:`errors`
   (file and byte offset) and skipped; it never stops the engine from opening.
"""

from __future__ import annotations

import fcntl
import os
import threading
import warnings
from pathlib import Path

import pyarrow as pa

from tsengine.core.merge import Rows
from tsengine.errors import CorruptionError
from tsengine.storage import recovery
from tsengine.storage import walformat as fmt
from tsengine.storage._fsio import fsync_dir
from tsengine.storage.blocks import rows_to_chunks
from tsengine.storage.diagnostics import StorageError, StorageWarning
from tsengine.storage.manifest import (
    LOCK_NAME,
    MANIFEST_NAME,
    SEGMENT_DIR,
    WAL_DIR,
    Manifest,
    SegmentRecord,
    load_manifest,
    save_manifest,
    segment_name,
)
from tsengine.storage.records import encode_definition, encode_write
from tsengine.storage.segment import SegmentReader, write_segment
from tsengine.storage.wal import WriteAheadLog

#: Live segment files at which a checkpoint folds the smaller half into its new one.
_MAX_SEGMENTS = 8


class DurableStore:
    """Write-ahead log, segment files and manifest of one engine directory.

    Parameters
    ----------
    path : str or Path
        Engine directory, created if missing; one process at a time may open it.
    durability : {"sync", "interval", "none"}
        See :mod:`tsengine.storage.wal` for what each mode guarantees.
    sync_interval : float
        Seconds between background fsyncs in ``"interval"`` mode.
    checkpoint_bytes : int
        Log bytes after which a write triggers a checkpoint.
    wal_file_bytes : int
        Size at which a log file rotates.

    Raises
    ------
    StorageError
        If another process has the directory open.
    CorruptionError
        If the manifest is damaged (without it, which segments are live is unknown).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        durability: str = "interval",
        sync_interval: float = 0.1,
        checkpoint_bytes: int = 64 << 20,
        wal_file_bytes: int = 64 << 20,
    ) -> None:
        self.path = Path(path)
        self.durability = durability
        self.checkpoint_bytes = int(checkpoint_bytes)
        #: Damage found at open: CorruptionError values naming file and byte offset.
        self.errors: list[CorruptionError] = []
        (self.path / SEGMENT_DIR).mkdir(parents=True, exist_ok=True)
        self._lock_fd = _lock_directory(self.path)
        self._engine = None
        self._checkpoint_lock = threading.Lock()
        # id(sealed chunk) -> (chunk, segment file, offsets): chunks already on disk
        self._located: dict[int, tuple[object, str, tuple[int, ...]]] = {}
        # segment file -> {chunk offset: (table, bytes)}
        self._contents: dict[str, dict[int, tuple[str, int]]] = {}
        self._logged_bytes = 0
        self._logged_by_table: dict[str, int] = {}
        self._last_hot_bytes = 0
        self._damaged: set[str] = set()
        try:
            self._manifest = load_manifest(self.path) or Manifest()
            self._definitions = dict(self._manifest.tables)
            self._wal = WriteAheadLog(
                self.path / WAL_DIR,
                durability=durability,
                sync_interval=sync_interval,
                max_file_bytes=wal_file_bytes,
                next_seq=self._manifest.wal_seq + 1,
            )
        except BaseException:
            os.close(self._lock_fd)
            raise
        self.errors.extend(self._wal.errors)

    # -- hooks the engine calls -------------------------------------------------------

    def log_create_table(self, definition: dict) -> None:
        """Log a table definition (new, or grown by tags/fields) before it is used."""
        self._wal.append(fmt.KIND_TABLE, encode_definition(definition))
        self._definitions[definition["name"]] = definition

    def log_write(self, tables: dict[str, pa.Table]) -> int:
        """Log one validated write call before the engine applies it.

        Returns
        -------
        int
            The record's sequence; with ``"sync"`` it is fsynced on return.
        """
        # A checkpoint here sees every earlier record applied and this one not yet
        limit = max(self.checkpoint_bytes, 2 * self._last_hot_bytes)
        if self._logged_bytes >= limit and self._engine is not None:
            self._checkpoint(self._engine, wait=False)
        parts = encode_write(tables)
        seq = self._wal.append(fmt.KIND_WRITE, parts)
        size = sum(memoryview(p).nbytes for p in parts)
        self._logged_bytes += size
        for name, data in tables.items():
            self._logged_by_table[name] = (
                self._logged_by_table.get(name, 0) + data.nbytes
            )
        return seq

    def on_seal(self, table: str, series_key: tuple, chunk) -> None:
        """A chunk was sealed. Nothing to do now: the next checkpoint writes every
        sealed chunk not yet on disk (the merge path may replace chunks, so the
        engine's current chunks are read at checkpoint time instead)."""

    @property
    def last_seq(self) -> int:
        """Sequence of the last logged record."""
        return self._wal.last_seq

    @property
    def durable_seq(self) -> int:
        """Every record up to this sequence is fsynced."""
        return self._wal.durable_seq

    def flush(self) -> None:
        """Fsync the log now, whatever the durability mode."""
        self._wal.sync()

    def close(self) -> None:
        """Close the log (fsyncing it unless ``"none"``) and release the directory."""
        if self._lock_fd < 0:
            return
        try:
            self._wal.close()
        finally:
            os.close(self._lock_fd)
            self._lock_fd = -1

    # -- checkpoint -------------------------------------------------------------------

    def checkpoint(self, engine) -> None:
        """Write what the log holds to segments, commit the manifest, trim the log.

        Writers are blocked only while the state is captured (sealed chunk references
        and ring copies); encoding and writing run alongside new writes.
        """
        self._checkpoint(engine, wait=True)

    def _checkpoint(self, engine, wait: bool) -> None:
        # Lock order is always engine lock, then checkpoint lock; a checkpoint that
        # a write triggers is skipped while another one is still writing
        with engine._ddl_lock:
            if not self._checkpoint_lock.acquire(blocking=wait):
                return
            try:
                seq = self._wal.last_seq
                if seq == self._manifest.wal_seq:
                    self._checkpoint_lock.release()
                    return
                sealed, hot = _capture(engine)
                definitions = dict(self._definitions)
                self._logged_bytes = 0
                self._logged_by_table = {}
            except BaseException:
                self._checkpoint_lock.release()
                raise
        try:
            self._commit_checkpoint(seq, sealed, hot, definitions)
        finally:
            self._checkpoint_lock.release()

    def _commit_checkpoint(self, seq, sealed, hot, definitions) -> None:
        # Segments at least half live stay; the others' live chunks are rewritten
        live: dict[str, set[int]] = {f: set() for f in self._contents}
        for _, _, _, chunk in sealed:
            where = self._located.get(id(chunk))
            if where is not None and where[0] is chunk:
                live[where[1]].update(where[2])
        keep = {f for f, offsets in live.items() if self._mostly_live(f, offsets)}
        if len(keep) >= _MAX_SEGMENTS:
            # Too many files: fold the smaller half into the new segment
            by_size = sorted(
                keep, key=lambda f: sum(s for _, s in self._contents[f].values())
            )
            keep -= set(by_size[: len(keep) - _MAX_SEGMENTS // 2])
        stays = [item for item in sealed if self._stays(item[3], keep)]
        fresh = [item for item in sealed if not self._stays(item[3], keep)]

        # One new segment with the fresh sealed chunks and every ring snapshot
        segments = [
            SegmentRecord(
                r.file,
                r.size,
                r.chunks,
                r.tables,
                sorted(set(self._contents[r.file]) - live[r.file]),
            )
            for r in self._manifest.segments
            if r.file in keep
        ]
        drop = [f for f in self._contents if f not in keep]
        number = self._manifest.next_segment
        located = {id(item[3]): self._located[id(item[3])] for item in stays}
        new_name = segment_name(number) if fresh or hot else None
        try:
            if new_name is not None:
                number += 1
                record, offsets = self._write_segment(new_name, fresh, hot)
                segments.append(record)
                for (_, _, _, chunk), at in zip(fresh, offsets, strict=True):
                    located[id(chunk)] = (chunk, new_name, at)

            # Commit point: from here on, the new manifest is what recovery reads
            manifest = Manifest(definitions, segments, seq, number)
            save_manifest(self.path, manifest)
        except BaseException:
            if new_name is not None and self._contents.pop(new_name, None) is not None:
                (self.path / SEGMENT_DIR / new_name).unlink(missing_ok=True)
            raise
        self._manifest = manifest
        self._located = located
        for name in drop:
            self._retire_segment(name)
        fsync_dir(self.path / SEGMENT_DIR)
        self._wal.truncate_through(seq)

    def _stays(self, chunk, keep: set[str]) -> bool:
        where = self._located.get(id(chunk))
        return where is not None and where[0] is chunk and where[1] in keep

    def _mostly_live(self, name: str, offsets: set[int]) -> bool:
        sizes = self._contents[name]
        total = sum(size for _, size in sizes.values())
        return 2 * sum(sizes[o][1] for o in offsets) >= total > 0

    def _write_segment(self, name: str, fresh: list, hot: list) -> tuple:
        """Write sealed chunks then ring snapshots; return the manifest record and,
        per sealed chunk, the offsets of the segment chunks holding it."""
        pieces = [rows_to_chunks(t, k, c.rows(), f, hot=False) for t, k, f, c in fresh]
        chunks = [piece for group in pieces for piece in group]
        sealed_count = len(chunks)
        for t, k, f, r in hot:
            chunks += rows_to_chunks(t, k, r, f, hot=True)
        path = self.path / SEGMENT_DIR / name
        size = write_segment(path, chunks)
        with SegmentReader(path) as reader:
            entries = reader.entries
        self._contents[name] = {e.offset: (e.table, e.end - e.offset) for e in entries}
        self._last_hot_bytes = sum(e.end - e.offset for e in entries[sealed_count:])
        per_table: dict[str, int] = {}
        for e in entries:
            per_table[e.table] = per_table.get(e.table, 0) + e.end - e.offset
        record = SegmentRecord(name, size, len(entries), per_table, [])
        offsets, at = [], 0
        for group in pieces:
            offsets.append(tuple(e.offset for e in entries[at : at + len(group)]))
            at += len(group)
        return record, offsets

    def _retire_segment(self, name: str) -> None:
        # A damaged file is kept aside for inspection rather than deleted
        path = self.path / SEGMENT_DIR / name
        if name in self._damaged:
            path.replace(path.with_name(name + ".damaged"))
        else:
            path.unlink(missing_ok=True)
        del self._contents[name]

    # -- recovery ---------------------------------------------------------------------

    def recover(self, engine) -> None:
        """Rebuild ``engine`` from the manifest, the segments and the log.

        Uses ``engine._recover_table(definition)`` and
        ``engine._recover_write(tables)``. Every problem is appended to
        :attr:`errors` (and warned about); the engine opens with all data that is
        still readable.
        """
        self._engine = engine
        segment_dir = self.path / SEGMENT_DIR
        recovery.remove_leftovers(
            segment_dir, {s.file for s in self._manifest.segments}
        )

        # Tables, then segment chunks, as of the last checkpoint
        before = len(self.errors)
        for definition in self._manifest.tables.values():
            recovery.apply(
                lambda d=definition: engine._recover_table(d),
                self.errors,
                self.path / MANIFEST_NAME,
                0,
            )
        for record in self._manifest.segments:
            found = len(self.errors)
            contents = recovery.recover_segment(
                engine,
                segment_dir / record.file,
                record,
                self._definitions,
                self.errors,
            )
            self._contents[record.file] = contents or {}
            if contents is None or len(self.errors) > found:
                self._damaged.add(record.file)
        for err in self.errors[before:]:
            warnings.warn(f"segment damaged: {err}", StorageWarning, stacklevel=3)

        # Then everything logged since
        recovery.replay_log(
            engine, self._wal, self._manifest.wal_seq, self._definitions, self.errors
        )

    # -- reporting --------------------------------------------------------------------

    def stats(self) -> dict:
        """Bytes on disk: per table (segments, log since the last checkpoint) and
        totals, plus log sequences and the damage found at open."""
        tables: dict[str, dict] = {}
        for record in self._manifest.segments:
            for name, size in record.tables.items():
                entry = tables.setdefault(name, {"segment_bytes": 0, "wal_bytes": 0})
                entry["segment_bytes"] += size
        for name, size in self._logged_by_table.items():
            entry = tables.setdefault(name, {"segment_bytes": 0, "wal_bytes": 0})
            entry["wal_bytes"] += size
        for entry in tables.values():
            entry["disk_bytes"] = entry["segment_bytes"] + entry["wal_bytes"]
        return {
            "path": str(self.path),
            "durability": self.durability,
            "tables": tables,
            "segment_files": len(self._manifest.segments),
            "segment_bytes": sum(s.size for s in self._manifest.segments),
            "wal_bytes": self._wal.size_bytes,
            "last_seq": self._wal.last_seq,
            "durable_seq": self._wal.durable_seq,
            "checkpoint_seq": self._manifest.wal_seq,
            "errors": [str(e) for e in self.errors],
        }


def _lock_directory(path: Path) -> int:
    fd = os.open(path / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StorageError(
            f"engine directory {str(path)!r} is already open in another process"
        ) from None
    return fd


def _capture(engine) -> tuple[list, list]:
    """Sealed chunks and ring copies of every series: (table, key, fields, data)."""
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

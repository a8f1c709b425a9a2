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
3. Checkpoints run on :meth:`checkpoint` (engine ``flush()``/``close()``), and in a
   background thread when the log has grown by ``checkpoint_bytes`` (or twice the
   last ring snapshot, if larger, so rewriting rings costs at most half the log
   volume). Writers wait only for the capture, not for encoding and writing.
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

from tsengine.errors import CorruptionError
from tsengine.storage import recovery
from tsengine.storage import walformat as fmt
from tsengine.storage.checkpoint import SegmentCatalog, capture, merged_definitions
from tsengine.storage.diagnostics import StorageError, StorageWarning
from tsengine.storage.manifest import (
    LOCK_NAME,
    MANIFEST_NAME,
    SEGMENT_DIR,
    WAL_DIR,
    Manifest,
    load_manifest,
)
from tsengine.storage.records import encode_definition, encode_write
from tsengine.storage.wal import WriteAheadLog

#: Log growth, in checkpoint limits, at which a writer waits for a checkpoint.
_BACKPRESSURE = 4


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
        for sub in (SEGMENT_DIR, WAL_DIR):
            try:
                (self.path / sub).mkdir(parents=True, exist_ok=True)
            except OSError as exc:  # e.g. a file where the directory belongs
                raise StorageError(
                    f"cannot use {str(self.path / sub)!r} as a directory: "
                    f"{exc.strerror or exc}"
                ) from None
        self._lock_fd = _lock_directory(self.path)
        self._engine = None
        self._checkpoint_lock = threading.Lock()
        self._segments = SegmentCatalog(self.path / SEGMENT_DIR)
        self._logged_bytes = 0
        self._logged_by_table: dict[str, int] = {}
        #: The error of the last background checkpoint, None once one succeeds.
        self.checkpoint_error: Exception | None = None
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
        # A checkpoint here sees every earlier record applied and this one not yet.
        # It runs in the background, unless the log has outgrown checkpoints by far:
        # then the writer waits (backpressure keeps the log and replay time bounded)
        limit = max(self.checkpoint_bytes, 2 * self._segments.last_hot_bytes)
        if self._logged_bytes >= limit and self._engine is not None:
            if self._logged_bytes >= _BACKPRESSURE * limit:
                self.checkpoint(self._engine)
            else:
                self._checkpoint_in_background(self._engine)
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

    def wait_idle(self) -> None:
        """Block until a background checkpoint, if one is running, has finished."""
        with self._checkpoint_lock:
            pass

    def close(self) -> None:
        """Close the log (fsyncing it unless ``"none"``) and release the directory."""
        if self._lock_fd < 0:
            return
        self.wait_idle()
        try:
            self._wal.close()
        finally:
            os.close(self._lock_fd)
            self._lock_fd = -1

    # -- checkpoint -------------------------------------------------------------------

    def checkpoint(self, engine) -> None:
        """Write what the log holds to segments, commit the manifest, trim the log.

        Runs in the calling thread and waits for a background checkpoint to finish
        first. Writers are blocked only while the state is captured (sealed chunk
        references and ring copies); encoding and writing run alongside new writes.

        Raises
        ------
        OSError
            If a file cannot be written; the manifest and log are left as they were,
            so nothing is lost and a later checkpoint retries.
        """
        job = self._capture(engine, wait=True)
        if job is not None:
            try:
                self._commit_checkpoint(*job)
            finally:
                self._checkpoint_lock.release()

    def _checkpoint_in_background(self, engine) -> None:
        # Skipped while another checkpoint is still writing; the next write retries
        job = self._capture(engine, wait=False)
        if job is None:
            return
        thread = threading.Thread(
            target=self._background_job,
            args=(job,),
            name="tsengine-checkpoint",
            daemon=True,
        )
        thread.start()

    def _background_job(self, job: tuple) -> None:
        try:
            self._commit_checkpoint(*job)
        except Exception as exc:  # the log still holds everything; keep serving
            self.checkpoint_error = exc
            warnings.warn(
                f"background checkpoint of {str(self.path)!r} failed (nothing is "
                f"lost, the log keeps the data): {exc}",
                StorageWarning,
                stacklevel=1,
            )
        finally:
            self._checkpoint_lock.release()

    def _capture(self, engine, wait: bool) -> tuple | None:
        """Under the engine lock, take the checkpoint lock and the state to write.

        Returns None (and holds no lock) when there is nothing new or, with
        ``wait=False``, when a checkpoint is already running. Lock order is always
        engine lock, then checkpoint lock.
        """
        with engine._ddl_lock:
            if not self._checkpoint_lock.acquire(blocking=wait):
                return None
            try:
                seq = self._wal.last_seq
                if seq == self._manifest.wal_seq:
                    self._checkpoint_lock.release()
                    return None
                sealed, hot = capture(engine)
                definitions = merged_definitions(engine, self._definitions)
                self._definitions = dict(definitions)
                self._logged_bytes = 0
                self._logged_by_table = {}
            except BaseException:
                self._checkpoint_lock.release()
                raise
        return seq, sealed, hot, definitions

    def _commit_checkpoint(self, seq, sealed, hot, definitions) -> None:
        # Chunks still plain are encoded here, once, by the engine's compactor
        compactor = getattr(self._engine, "_compactor", None)
        self._manifest = self._segments.commit(
            self._manifest,
            seq,
            sealed,
            hot,
            definitions,
            None if compactor is None else compactor.twin_of,
        )
        self._wal.truncate_through(seq)
        self.checkpoint_error = None

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
            self._segments.add_recovered(
                record.file, contents, len(self.errors) > found
            )
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
            "checkpoint_error": None
            if self.checkpoint_error is None
            else str(self.checkpoint_error),
        }


def _lock_directory(path: Path) -> int:
    fd = os.open(path / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StorageError(
            f"engine directory {str(path)!r} is already open (by another process, "
            "or by another Engine in this one: close it first)"
        ) from None
    return fd

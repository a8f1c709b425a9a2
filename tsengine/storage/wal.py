"""The write-ahead log: checksummed records appended to rotating files, and replay.

Durability modes, i.e. what has happened when :meth:`WriteAheadLog.append` returns:

``"sync"``
    The record is written and fsynced. Neither a process kill nor an OS crash or power
    cut loses it. Concurrent appenders share fsyncs (group commit).
``"interval"``
    The record is handed to the kernel with ``write()``; a background thread fsyncs at
    least every ``sync_interval`` seconds. A killed *process* loses nothing that was
    acknowledged, since the kernel already holds it. An *OS crash or power cut* loses
    at most the records acknowledged during the last ``sync_interval`` plus the
    duration of one fsync. :attr:`WriteAheadLog.durable_seq` says what is safe.
``"none"``
    No fsync except on :meth:`WriteAheadLog.sync`; an OS crash can lose anything not
    yet written back by the kernel. A process kill still loses nothing acknowledged.

Files are named by the sequence of their first record (see
:mod:`tsengine.storage.walformat` for the byte layout) and rotate once they exceed
``max_file_bytes``. Opening scans every file: a torn last record is truncated with a
:class:`~tsengine.storage.diagnostics.StorageWarning`; damage elsewhere is collected
in :attr:`WriteAheadLog.errors` (or raised, with ``on_corruption="raise"``).
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from tsengine.errors import ArgumentError, CorruptionError
from tsengine.storage import walformat as fmt
from tsengine.storage._crc import crc32
from tsengine.storage._fsio import fsync_dir, write_all
from tsengine.storage.diagnostics import StorageError, StorageWarning, corruption

DURABILITY_MODES = ("sync", "interval", "none")


class Record(NamedTuple):
    """One replayed log record: sequence number, kind, payload bytes, and the file
    and byte offset it was read from."""

    seq: int
    kind: int
    payload: bytes
    path: Path
    offset: int


class _LogFile(NamedTuple):
    path: Path
    first_seq: int
    last_seq: int  # 0 while the file holds no record


class WriteAheadLog:
    """An append-only, checksummed, rotating log of records in one directory.

    Parameters
    ----------
    directory : str or Path
        Created if missing. Holds only ``*.wal`` files.
    durability : {"sync", "interval", "none"}
        When an append is fsynced (see the module docstring for the loss windows).
    sync_interval : float
        Seconds between background fsyncs in ``"interval"`` mode.
    max_file_bytes : int
        A file that has reached this size gets no more records; a new one starts.
    next_seq : int
        Smallest sequence the next append may get. Pass one more than the last
        sequence already checkpointed, so numbering continues after the files holding
        it were deleted.
    on_corruption : {"report", "raise"}
        Damage that is not a torn tail: collect it in :attr:`errors` and skip the
        damaged bytes (the engine still opens), or raise the first error before
        changing any file.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     with WriteAheadLog(tmp, durability="sync") as log:
    ...         log.append(2, b"hello")
    ...     with WriteAheadLog(tmp) as log:
    ...         [(r.seq, r.payload) for r in log.replay()]
    1
    [(1, b'hello')]
    """

    def __init__(
        self,
        directory: str | Path,
        *,
        durability: str = "interval",
        sync_interval: float = 0.1,
        max_file_bytes: int = 64 << 20,
        next_seq: int = 1,
        on_corruption: str = "report",
    ) -> None:
        if durability not in DURABILITY_MODES:
            raise ArgumentError(
                f"durability must be one of {DURABILITY_MODES}, got {durability!r}"
            )
        if not sync_interval > 0:
            raise ArgumentError(
                f"sync_interval must be > 0 seconds, got {sync_interval!r}"
            )
        if on_corruption not in ("report", "raise"):
            raise ArgumentError(
                f"on_corruption must be 'report' or 'raise', got {on_corruption!r}"
            )
        self.directory = Path(directory)
        self.durability = durability
        self.sync_interval = float(sync_interval)
        self.max_file_bytes = int(max_file_bytes)
        #: Damage found at open, as CorruptionError values naming file and offset.
        self.errors: list[CorruptionError] = []
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._failure: BaseException | None = None
        self._fd: int | None = None
        self._closed = False

        # Scan what is on disk, repair torn tails, then position the writer
        self.directory.mkdir(parents=True, exist_ok=True)
        self._records: list[fmt.RecordLocation] = []
        self._files: list[_LogFile] = []
        self._open_existing(on_corruption)
        last = self._records[-1].seq if self._records else 0
        self._next_seq = max(last + 1, int(next_seq))
        self._written_seq = self._next_seq - 1
        self._durable_seq = self._written_seq
        self._size = 0
        self._start_writer()

        # The background fsync thread of "interval" mode
        self._stop = threading.Event()
        self._flusher = None
        if durability == "interval":
            self._flusher = threading.Thread(
                target=self._flush_loop, name="tsengine-wal-sync", daemon=True
            )
            self._flusher.start()

    # -- opening ---------------------------------------------------------------------

    def _open_existing(self, on_corruption: str) -> None:
        scans = fmt.scan_directory(self.directory)
        found = [err for scan in scans for err in scan.errors]
        if found and on_corruption == "raise":
            raise found[0]
        for err in found:
            warnings.warn(
                f"write-ahead log damaged: {err}", StorageWarning, stacklevel=3
            )
        self.errors.extend(found)

        for scan in scans:
            if scan.torn_at is not None:
                # Known gap: a complete last record damaged after it was written
                # looks the same as an interrupted append and is cut off as one
                warnings.warn(
                    f"write-ahead log {str(scan.path)!r}: torn last record at byte "
                    f"offset {scan.torn_at} cut off ({scan.size - scan.torn_at} "
                    f"bytes, {scan.torn_reason}): an interrupted append leaves "
                    "this; if that write had returned, the log was damaged",
                    StorageWarning,
                    stacklevel=3,
                )
                fmt.cut_torn_tail(scan)
            if scan.path.exists():
                first = scan.records[0].seq if scan.records else 0
                self._files.append(_LogFile(scan.path, first, scan.last_seq or 0))
            self._records.extend(scan.records)

    def _start_writer(self) -> None:
        # Keep appending to the newest file when it is intact and has room
        if self._files:
            last = self._files[-1]
            size = last.path.stat().st_size
            intact = not any(Path(e.path) == last.path for e in self.errors)
            if intact and size < self.max_file_bytes:
                self._fd = os.open(last.path, os.O_WRONLY | os.O_APPEND)
                self._size = size
                return
        self._new_file()

    def _new_file(self) -> None:
        path = self.directory / fmt.file_name(self._next_seq)
        if path.exists():
            # Only a damaged file that lost all its records can hold this name: keep
            # it for inspection, out of the way of later scans
            path.rename(path.with_name(path.name + ".damaged"))
            self._files = [f for f in self._files if f.path != path]
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o644)
        self._size = write_all(fd, [fmt.pack_file_header(self._next_seq)])
        if self.durability != "none":
            os.fsync(fd)
            fsync_dir(self.directory)
        self._fd = fd
        self._files.append(_LogFile(path, 0, 0))

    # -- state -----------------------------------------------------------------------

    @property
    def last_seq(self) -> int:
        """Sequence of the last appended (or replayed) record; 0 when there is none."""
        return self._written_seq

    @property
    def durable_seq(self) -> int:
        """Every record with a sequence up to this one is fsynced."""
        return self._durable_seq

    @property
    def size_bytes(self) -> int:
        """Bytes of all log files on disk, headers included."""
        with self._lock:
            done = sum(f.path.stat().st_size for f in self._files[:-1])
            return done + self._size

    @property
    def files(self) -> list[Path]:
        """Paths of the log files, oldest first."""
        with self._lock:
            return [f.path for f in self._files]

    # -- replay ----------------------------------------------------------------------

    def replay(self, after_seq: int = 0) -> Iterator[Record]:
        """Yield the valid records found at open with ``seq > after_seq``, in order.

        Records appended since open are not included: replay is the recovery step
        that runs once, before new appends.

        Payloads are re-read from disk and their crc32 checked again, so bytes damaged
        since open raise CorruptionError here instead of being applied.
        """
        todo = [r for r in self._records if r.seq > after_seq]
        current, data = None, b""
        for rec in todo:
            if rec.path != current:
                current, data = rec.path, rec.path.read_bytes()
            start = rec.payload_offset
            payload = data[start : start + rec.length]
            head = fmt.RECORD_HEADER.unpack_from(data, rec.offset)
            if len(payload) != rec.length or crc32(payload) != head[6]:
                raise corruption(rec.path, rec.offset, "record changed since open")
            yield Record(rec.seq, rec.kind, payload, rec.path, rec.offset)

    # -- appending -------------------------------------------------------------------

    def append(self, kind: int, payload: bytes | memoryview | list) -> int:
        """Append one record and return its sequence number.

        Parameters
        ----------
        kind : int
            ``walformat.KIND_TABLE`` or ``walformat.KIND_WRITE``.
        payload : bytes-like or list of bytes-like
            The record body; a list is written with one ``writev`` without joining.

        Returns
        -------
        int
            The record's sequence. With ``"sync"`` it is fsynced on return.

        Raises
        ------
        StorageError
            An earlier fsync failed or the log is closed; nothing more is accepted.
        OSError
            The write failed (disk full, ...); the partial record was removed.
        """
        parts = payload if isinstance(payload, list) else [payload]
        length = sum(memoryview(p).nbytes for p in parts)
        if length > fmt.MAX_PAYLOAD:
            raise ValueError(
                f"log record of {length} bytes exceeds the limit of {fmt.MAX_PAYLOAD}"
            )
        if kind not in fmt.KINDS:
            raise ValueError(f"unknown log record kind {kind!r}")
        crc = 0
        for part in parts:
            crc = crc32(part, crc)

        with self._lock:
            self._check_usable()
            if self._size >= self.max_file_bytes and self._files[-1].last_seq:
                self._rotate()
            seq = self._next_seq
            header = fmt.pack_record_header(kind, seq, length, crc)
            self._write_record([header, *parts])
            self._next_seq = seq + 1
            self._written_seq = seq
            last = self._files[-1]
            self._files[-1] = last._replace(
                first_seq=last.first_seq or seq, last_seq=seq
            )

        if self.durability == "sync":
            self._sync_through(seq)
        return seq

    def _check_usable(self) -> None:
        if self._closed:
            raise StorageError(f"write-ahead log {str(self.directory)!r} is closed")
        if self._failure is not None:
            raise StorageError(
                f"write-ahead log {str(self.directory)!r} failed to fsync earlier "
                f"({self._failure}); acknowledged data may be lost, reopen to recover"
            ) from self._failure

    def _write_record(self, parts: list) -> None:
        # A failed write must not leave half a record in front of the next one
        start = self._size
        try:
            self._size += write_all(self._fd, parts)
        except BaseException:
            try:
                os.ftruncate(self._fd, start)
                self._size = start
            except OSError as exc:
                self._failure = exc
            raise

    def _rotate(self) -> None:
        # Seal the full file durably before any record lands in the next one
        if self.durability != "none":
            os.fsync(self._fd)
            self._durable_seq = max(self._durable_seq, self._written_seq)
        os.close(self._fd)
        self._fd = None
        self._new_file()

    # -- syncing ---------------------------------------------------------------------

    def sync(self) -> int:
        """Fsync everything appended so far, whatever the mode; return durable_seq."""
        with self._lock:
            self._check_usable()
            target = self._written_seq
        self._sync_through(target)
        return self._durable_seq

    def _sync_through(self, seq: int) -> None:
        with self._sync_lock:
            if self._durable_seq >= seq:
                return  # another thread's fsync covered it
            # A private duplicate of the fd stays valid even if a rotation closes ours
            with self._lock:
                self._check_usable()
                target = self._written_seq
                fd = os.dup(self._fd)
            try:
                os.fsync(fd)
            except OSError as exc:
                self._failure = exc
                raise StorageError(
                    f"fsync of write-ahead log {str(self.directory)!r} failed: {exc}"
                ) from exc
            finally:
                os.close(fd)
            self._durable_seq = max(self._durable_seq, target)

    def _flush_loop(self) -> None:
        while not self._stop.wait(self.sync_interval):
            if self._written_seq > self._durable_seq:
                try:
                    self._sync_through(self._written_seq)
                except Exception:  # kept in _failure; the next append raises it
                    return

    # -- truncation and closing ------------------------------------------------------

    def truncate_through(self, seq: int) -> list[Path]:
        """Delete the log files whose records all have a sequence ``<= seq``.

        Call it only after everything up to ``seq`` is durable elsewhere (a
        checkpoint). The file being written is rotated first when it is fully
        covered, so it can go too.

        Returns
        -------
        list of Path
            The deleted files.
        """
        with self._lock:
            self._check_usable()
            if self._files[-1].last_seq and self._files[-1].last_seq <= seq:
                self._rotate()
            doomed = [f for f in self._files[:-1] if f.last_seq <= seq]
            self._files = [f for f in self._files if f not in doomed]
            self._records = [r for r in self._records if r.seq > seq]
        for f in doomed:
            f.path.unlink(missing_ok=True)
        if doomed and self.durability != "none":
            fsync_dir(self.directory)
        return [f.path for f in doomed]

    def close(self) -> None:
        """Stop the sync thread, fsync what is pending (not in "none" mode), close."""
        if self._closed:
            return
        self._stop.set()
        if self._flusher is not None:
            self._flusher.join()
        try:
            if self.durability != "none" and self._failure is None:
                self._sync_through(self._written_seq)
        finally:
            with self._lock:
                self._closed = True
                if self._fd is not None:
                    os.close(self._fd)
                    self._fd = None

    def __enter__(self) -> WriteAheadLog:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

"""Background compression of sealed chunks.

Sealing happens under a table's write lock, so it only moves arrays. This worker then
encodes each new chunk off the write path and swaps the encoded twin into the series
with a pointer swap under the lock; readers holding the plain chunk keep using it.

A checkpoint that finds a chunk still plain asks for its twin (:meth:`twin_of`)
instead of writing raw arrays: the chunk is encoded once, by whichever thread comes
first, and the worker later swaps in that same twin, so the segment and the engine
agree on the chunk's identity and it is never written twice.

Sealed chunks wait for the worker as plain arrays. When writes seal faster than the
worker encodes, that backlog would grow without end (about 16 bytes a point), so
writers wait (:meth:`Compactor.wait_for_room`) while it holds more than
``max_backlog`` bytes: sustained ingest then runs at the rate compression keeps up
with, and memory stays bounded.
"""

from __future__ import annotations

import queue
import threading
import weakref
from typing import Any

from tsengine.core.chunk import SealedChunk

#: Plain sealed bytes waiting for encoding at which writers wait for the worker.
MAX_BACKLOG_BYTES = 256 << 20


class Compactor:
    """One daemon thread encoding sealed chunks in the order they were sealed."""

    def __init__(self, max_backlog: int = MAX_BACKLOG_BYTES) -> None:
        self.max_backlog = int(max_backlog)
        #: Raw bytes of the queued chunks not yet encoded.
        self.backlog = 0
        self._room = threading.Condition(threading.Lock())
        self._queue: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self.errors: list[str] = []
        self.compacted = 0
        # plain chunk -> its encoded twin, while the plain chunk lives
        self._twins: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._twins_lock = threading.Lock()

    def twin_of(self, chunk: SealedChunk) -> SealedChunk:
        """The encoded twin of ``chunk``, encoding it in the calling thread unless
        that was done already; the worker swaps this very object in later."""
        if chunk.encoded:
            return chunk
        with self._twins_lock:
            twin = self._twins.get(chunk)
        if twin is None:
            twin = chunk.compress()
            with self._twins_lock:
                twin = self._twins.setdefault(chunk, twin)
        return twin

    def submit(self, table: Any, buf: Any, chunk: SealedChunk) -> None:
        """Queue ``chunk`` of ring ``buf`` in core table ``table`` for encoding."""
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="tsengine-compactor", daemon=True
                    )
                    self._thread.start()
        with self._room:
            self.backlog += chunk.raw_nbytes
        self._queue.put((table, buf, chunk))

    def wait_for_room(self) -> None:
        """Block while the backlog is over ``max_backlog`` bytes.

        Call it holding no table lock: the worker needs them to swap chunks in.
        Returns at once when the worker is not running (nothing can shrink it).
        """
        if self.backlog <= self.max_backlog:
            return
        with self._room:
            while self.backlog > self.max_backlog and self._thread is not None:
                self._room.wait(0.1)

    def drain(self) -> None:
        """Block until every queued chunk is encoded and swapped in."""
        if self._thread is not None:
            self._queue.join()

    def close(self) -> None:
        """Finish the queue and stop the thread."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                self._compact(*item)
            except Exception as exc:  # a failure leaves the plain chunk in place
                self.errors.append(f"{type(exc).__name__}: {exc}")
            finally:
                if item is not None:
                    with self._room:
                        self.backlog -= item[2].raw_nbytes
                        self._room.notify_all()
                self._queue.task_done()

    def _compact(self, table: Any, buf: Any, chunk: SealedChunk) -> None:
        # Encode outside the lock: writers keep going meanwhile.
        if not any(c is chunk for c in buf.sealed):
            return  # merged away already
        encoded = self.twin_of(chunk)

        # Swap under the lock, if the merge path has not replaced the chunk since.
        with table.lock:
            sealed = buf.sealed
            for i, current in enumerate(sealed):
                if current is chunk:
                    buf.sealed = (*sealed[:i], encoded, *sealed[i + 1 :])
                    table.publish([buf])
                    self.compacted += 1
                    return

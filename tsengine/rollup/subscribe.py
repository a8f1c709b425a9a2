"""Subscriptions to a rollup: each closed-window batch, delivered as it closes.

A subscription is an iterator of ``pyarrow.RecordBatch``: one batch per source write
that closed windows, holding exactly those windows (schema of a read of the rollup
table). Batches are queued per subscriber, in closing order, each batch once.

Slow subscribers
    The queue is bounded (``maxsize`` batches). When it is full, the *oldest* queued
    batch is dropped to make room and :attr:`Subscription.dropped` counts it: the
    writer never waits for a reader, and a reader that falls behind sees a gap it can
    detect (and fill with ``Engine.read`` of the rollup table, which has every row).

End of iteration
    When the subscription is closed (:meth:`Subscription.close`, ``drop_rollup``),
    when the engine is closed (after the batches already queued), or when no batch
    arrives within ``timeout`` seconds.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

import pyarrow as pa

from tsengine.errors import ArgumentError

#: Batches a subscriber may have waiting before the oldest is dropped.
DEFAULT_MAXSIZE = 1024
# How often a waiting reader looks whether the engine was closed, seconds
_POLL = 0.05


class Subscription:
    """Iterator over a rollup's closed-window batches (thread-safe).

    Parameters
    ----------
    name : str
        The rollup.
    timeout : float or None
        Seconds to wait for the next batch before iteration ends; None waits until
        the subscription or the engine is closed.
    maxsize : int
        Queue bound in batches (see the module docstring).
    alive : callable
        Returns False once the engine is closed.
    sync : callable
        Brings the rollup up to date with every committed source write (it is
        maintained in the background): called before the queue is looked at, so
        ``pending``, ``dropped`` and the next batch count every write that returned.
    """

    def __init__(
        self,
        name: str,
        timeout: float | None = None,
        maxsize: int = DEFAULT_MAXSIZE,
        alive: Callable[[], bool] = lambda: True,
        sync: Callable[[], None] = lambda: None,
    ) -> None:
        if timeout is not None and (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or timeout < 0
        ):
            raise ArgumentError(f"timeout={timeout!r} must be None or seconds >= 0")
        if isinstance(maxsize, bool) or not isinstance(maxsize, int) or maxsize < 1:
            raise ArgumentError(f"maxsize={maxsize!r} must be a positive integer")
        self.name = name
        self.timeout = timeout
        self.maxsize = maxsize
        self._dropped = 0
        self.delivered = 0
        self._queue: deque[pa.RecordBatch] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self._alive = alive
        self._sync = sync

    # -- producer side ---------------------------------------------------------

    def put(self, batch: pa.RecordBatch) -> None:
        """Queue a batch; never blocks (drops the oldest when full)."""
        with self._cond:
            if self._closed:
                return
            if len(self._queue) >= self.maxsize:
                self._queue.popleft()
                self._dropped += 1
            self._queue.append(batch)
            self._cond.notify_all()

    def close(self, discard: bool = True) -> None:
        """End the iteration; batches still queued are discarded, or with
        ``discard=False`` still delivered before the iteration stops."""
        with self._cond:
            self._closed = True
            if discard:
                self._queue.clear()
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran."""
        return self._closed

    @property
    def pending(self) -> int:
        """Batches queued and not yet taken."""
        self._sync()
        return len(self._queue)

    @property
    def dropped(self) -> int:
        """Batches dropped because this subscriber fell behind."""
        self._sync()
        return self._dropped

    # -- consumer side ---------------------------------------------------------

    def __iter__(self) -> Subscription:
        return self

    def __next__(self) -> pa.RecordBatch:
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        if not self._queue and not self._closed:
            self._sync()
        with self._cond:
            while True:
                if self._queue:
                    self.delivered += 1
                    return self._queue.popleft()
                if self._closed or not self._alive():
                    raise StopIteration
                wait = _POLL
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise StopIteration
                    wait = min(wait, left)
                self._cond.wait(wait)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Hub:
    """The subscriptions of one rollup; publishes each closed batch to all."""

    def __init__(self) -> None:
        self._subs: list[Subscription] = []
        self._lock = threading.Lock()

    def add(self, sub: Subscription) -> Subscription:
        with self._lock:
            self._subs.append(sub)
        return sub

    def publish(self, batch: pa.RecordBatch) -> None:
        """Queue ``batch`` for every open subscription; forget closed ones."""
        with self._lock:
            self._subs = [s for s in self._subs if not s.closed]
            subs = list(self._subs)
        for sub in subs:
            sub.put(batch)

    def close(self, discard: bool = True) -> None:
        """Close every subscription (the rollup is dropped, or with
        ``discard=False`` the engine closes and queued windows are still read)."""
        with self._lock:
            subs, self._subs = self._subs, []
        for sub in subs:
            sub.close(discard)

    def stats(self) -> tuple[int, int]:
        """(open subscriptions, batches dropped for slow subscribers so far)."""
        with self._lock:
            subs = [s for s in self._subs if not s.closed]
        return len(subs), sum(s._dropped for s in subs)

    def __bool__(self) -> bool:
        return bool(self._subs)

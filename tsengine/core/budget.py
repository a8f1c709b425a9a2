"""Memory budget: writers wait for room, then get a clear error -- never an OOM kill.

The engine's footprint is the bytes its rings reserve plus its sealed chunks as held
(encoded once the compactor has run). A write that would take the engine past its
budget waits, in short sleeps, for the compactor or retention to free memory; after
``timeout`` seconds it raises :class:`~tsengine.errors.BudgetError`, and nothing of
that write is stored.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from tsengine.core.table import Table
from tsengine.errors import BudgetError

#: Seconds between two full scans of the engine's footprint while under budget.
_SCAN_EVERY = 0.05


class MemoryBudget:
    """Admission control for writes against a byte budget.

    Parameters
    ----------
    limit : int
        Bytes the engine may hold in memory (rings reserved plus sealed chunks).
    timeout : float
        Seconds a writer waits for room before :class:`BudgetError`.
    tables : callable
        Returns the engine's core tables.
    """

    def __init__(
        self, limit: int, timeout: float, tables: Callable[[], Iterable[Table]]
    ) -> None:
        if limit <= 0:
            raise ValueError(f"memory budget {limit!r} must be a positive byte count")
        self.limit = int(limit)
        self.timeout = float(timeout)
        self._tables = tables
        self._used = 0
        self._scanned = 0.0
        self.waits = 0
        self.refusals = 0

    def used(self, fresh: bool = False) -> int:
        """Bytes in use (rescanned at most every 50 ms unless ``fresh``)."""
        now = time.monotonic()
        if fresh or now - self._scanned > _SCAN_EVERY:
            total = 0
            for table in list(self._tables()):
                for buf in list(table.series.values()):
                    total += buf.nbytes + sum(c.nbytes for c in buf.sealed)
            self._used = total
            self._scanned = now
        return self._used

    def admit(self, incoming: int) -> None:
        """Return when ``incoming`` more bytes fit; else wait, then raise."""
        if self.used() + incoming <= self.limit:
            self._used += incoming  # until the next scan: writes between scans add up
            return
        deadline = time.monotonic() + self.timeout
        self.waits += 1
        while True:
            used = self.used(fresh=True)
            if used + incoming <= self.limit:
                self._used += incoming
                return
            if time.monotonic() >= deadline:
                self.refusals += 1
                raise BudgetError(
                    f"memory budget of {self.limit!r} bytes is exhausted: "
                    f"{used!r} bytes in use and this write needs about "
                    f"{incoming!r} more; waited {self.timeout!r} s. Raise "
                    "memory_budget, shorten retention or read less often."
                )
            time.sleep(0.01)

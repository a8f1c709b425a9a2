"""Reader threads shared by the concurrency tests: each read must hold every write
batch whole or not at all, and must never have fewer rows than the one before."""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np


class WholeBatchReaders:
    """Run ``count`` threads calling ``read_ids`` until the ``with`` block ends.

    ``read_ids`` returns the batch number of every row read; each batch has
    ``per_batch`` rows. Problems are collected in ``failures``; ``reads`` counts
    the reads of each thread.
    """

    def __init__(self, read_ids: Callable[[], np.ndarray], per_batch: int, count: int):
        self.read_ids = read_ids
        self.per_batch = per_batch
        self.failures: list[str] = []
        self.reads = [0] * count
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._reader, args=(k,)) for k in range(count)
        ]

    def _reader(self, k: int) -> None:
        last = 0
        while not self._stop.is_set():
            ids = self.read_ids()
            counts = np.bincount(ids) if len(ids) else np.zeros(0, np.int64)
            partial = np.flatnonzero((counts != 0) & (counts != self.per_batch))
            if len(partial):
                self.failures.append(f"reader {k} saw part of batch {partial[0]}")
            if len(ids) < last:
                self.failures.append(f"reader {k} saw {len(ids)} rows after {last}")
            last = len(ids)
            self.reads[k] += 1

    def __enter__(self) -> WholeBatchReaders:
        for th in self._threads:
            th.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for th in self._threads:
            th.join(timeout=30)

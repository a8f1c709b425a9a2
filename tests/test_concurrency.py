"""One writer, four readers, sealing all along: reads see whole batches only and
never shrink. Writers in several threads lose nothing."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from batch_readers import WholeBatchReaders

import tsengine

BATCH = 48  # rows per write, split over three series
SERIES = ["A", "B", "C"]


def _batch(i: int) -> dict:
    t = np.repeat(np.arange(i * 16, i * 16 + 16, dtype=np.int64), 3)
    return {"time": t, "asset": SERIES * 16, "batch": np.full(BATCH, i, np.int64)}


def test_readers_see_whole_batches_and_never_shrink():
    engine = tsengine.Engine()
    engine.create_table(
        "t", tags=["asset"], fields={"batch": "int64"}, ring_capacity=64
    )
    readers = WholeBatchReaders(
        lambda: engine.read("t").column("batch").to_numpy(), BATCH, 4
    )
    deadline = time.monotonic() + 20
    written = 0
    with readers:
        while written < 400 and time.monotonic() < deadline:
            engine.write("t", _batch(written))
            written += 1
    assert not readers.failures, readers.failures[:5]
    assert min(readers.reads) > 0
    final = engine.read("t")
    assert final.num_rows == written * BATCH
    assert engine.stats()["tables"]["t"]["sealed_points"] > 0


@pytest.mark.parametrize("policy", ["last", "keep"])
def test_concurrent_writers_lose_nothing(policy):
    engine = tsengine.Engine()
    engine.create_table(
        "t", tags=["w"], fields={"v": "float64"}, ring_capacity=32, duplicates=policy
    )

    def writer(w: int) -> None:
        s = engine.series("t", w=str(w))
        for i in range(500):
            if i % 2:
                s.append(i, v=float(i))
            else:
                engine.write("t", {"time": [i], "w": [str(w)], "v": [float(i)]})

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    table = engine.read("t")
    assert table.num_rows == 4 * 500
    for w in range(4):
        got = engine.read("t", where={"w": str(w)}).column("v").to_pylist()
        assert got == [float(i) for i in range(500)]

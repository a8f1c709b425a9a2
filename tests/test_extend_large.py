"""Series.extend of large in-order blocks (the ring copy bypasses the cache for
blocks of 64 KB and more): every byte lands, also across the ring's wrap point and
at unaligned ring positions, and an out-of-order block still takes the merge path."""

from __future__ import annotations

import numpy as np
import pytest

import tsengine


@pytest.mark.parametrize("offset", [0, 1, 3, 7])
def test_large_blocks_wrap_and_stay_exact(offset):
    engine = tsengine.Engine()
    capacity = 50_001  # odd: the wrap point and the block ends are unaligned
    engine.create_table(
        "t", fields={"v": "float64", "n": "int64"}, ring_capacity=capacity
    )
    s = engine.series("t")
    rng = np.random.default_rng(offset)
    times, values, counts = [], [], []
    start = 0
    if offset:
        t0 = np.arange(offset, dtype=np.int64)
        v0, n0 = rng.random(offset), rng.integers(-(2**62), 2**62, offset)
        s.extend(t0, v=v0, n=n0)
        times.append(t0), values.append(v0), counts.append(n0)
        start = offset
    for size in (9_000, 20_000, 33_333, 8_192, 40_000):
        t = np.arange(start, start + size, dtype=np.int64)
        v = rng.random(size)
        n = rng.integers(-(2**62), 2**62, size)
        s.extend(t, v=v, n=n)
        times.append(t), values.append(v), counts.append(n)
        start += size
    got = engine.read("t")
    assert np.array_equal(
        got.column("time").cast("int64").to_numpy(), np.concatenate(times)
    )
    assert np.array_equal(got.column("v").to_numpy(), np.concatenate(values))
    assert np.array_equal(got.column("n").to_numpy(), np.concatenate(counts))


def test_large_block_out_of_order_is_merged():
    engine = tsengine.Engine()
    engine.create_table("t", fields={"v": "float64"}, ring_capacity=1 << 18)
    s = engine.series("t")
    a = np.arange(0, 200_000, 2, dtype=np.int64)
    b = np.arange(1, 200_000, 2, dtype=np.int64)
    s.extend(a, v=a.astype(float))
    s.extend(b, v=b.astype(float))  # interleaves with what is stored
    got = engine.read("t")
    expected = np.arange(200_000, dtype=np.int64)
    assert np.array_equal(got.column("time").cast("int64").to_numpy(), expected)
    assert np.array_equal(got.column("v").to_numpy(), expected.astype(float))

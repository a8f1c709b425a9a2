"""SeriesBuffer.append_checked, the ring side of Series.extend's fast path.

The order check is fused into the copy of the times and proves order with
subtractions that are exact only for times in [-2**62, 2**62); anything else gets
the exact scan. These tests compare the verdict with a plain Python oracle at every
place a defect can sit (scalar head, vector body, tail, across the ring's wrap
point), and check that a refused batch leaves the ring exactly as it was.
"""

from __future__ import annotations

import numpy as np
import pytest
from tsengine._native._ring import SeriesBuffer

import tsengine

BIG = 20_000  # 160 KB of times: large enough for the streaming path


def in_order(t: np.ndarray, allow_equal: bool, last: int | None = None) -> bool:
    """The slow, obviously correct verdict."""
    seq = ([] if last is None else [last]) + [int(x) for x in t]
    return all(b > a or (allow_equal and b == a) for a, b in zip(seq, seq[1:]))


def state(buf: SeriesBuffer) -> tuple:
    times, cols, _ = buf.copy_range(buf.head, buf.count, 0, buf.count)
    return buf.count, buf.last_time, buf.empty, times.tolist(), cols[0].tolist()


def check_append(buf: SeriesBuffer, t: np.ndarray) -> bool:
    """append_checked, asserting it agrees with the oracle and refuses cleanly."""
    before = state(buf)
    last = None if buf.empty else buf.last_time
    values = t.astype(np.float64) * 0.5
    stored = buf.append_checked(t, [values])
    assert stored == in_order(t, buf.allow_equal, last)
    if not stored:
        assert state(buf) == before
    else:
        times, cols, _ = buf.copy_range(
            buf.head, buf.count, buf.count - len(t), buf.count
        )
        assert np.array_equal(times, t)
        assert np.array_equal(cols[0], values)
    return stored


def positions(n: int) -> list[int]:
    """Indices covering the scalar head, vector lanes and blocks, and the tail."""
    picks = {1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 16, 17, n // 2, n - 9, n - 8}
    picks |= {n - 7, n - 5, n - 2, n - 1}
    return sorted(p for p in picks if 0 < p < n)


@pytest.mark.parametrize("allow_equal", [False, True])
@pytest.mark.parametrize("size", [7, 100, BIG, BIG + 5])
def test_single_defect_is_found_anywhere(allow_equal, size):
    for offset in (0, 1, 2, 3):  # ring slot alignment of the first point
        for at in positions(size):
            for defect in ("down", "equal"):
                buf = SeriesBuffer(1 << 16, ["float64"], allow_equal)
                if offset:
                    assert check_append(
                        buf, np.arange(-10, -10 + offset, dtype=np.int64)
                    )
                t = np.arange(size, dtype=np.int64) * 3
                t[at] = t[at - 1] - 1 if defect == "down" else t[at - 1]
                check_append(buf, t)


@pytest.mark.parametrize("allow_equal", [False, True])
def test_first_point_against_stored_last(allow_equal):
    buf = SeriesBuffer(1 << 16, ["float64"], allow_equal)
    assert check_append(buf, np.arange(100, 100 + BIG, dtype=np.int64))
    last = buf.last_time
    for start in (last - 1, last, last + 1):
        check_append(buf, np.arange(start, start + BIG, dtype=np.int64))


@pytest.mark.parametrize("allow_equal", [False, True])
def test_times_beyond_the_fast_range_take_the_exact_scan(allow_equal):
    lo, hi = -(2**63), 2**63 - 1
    cases = [
        np.arange(2**62 - BIG // 2, 2**62 + BIG // 2, dtype=np.int64),
        np.arange(-(2**62) - BIG // 2, -(2**62) + BIG // 2, dtype=np.int64),
        np.concatenate([[lo], np.arange(BIG, dtype=np.int64), [hi]]),
        # a fall of more than 2**63 among times that leave the fast range
        np.concatenate(
            [
                np.arange(BIG, dtype=np.int64) * 2**48,
                [-(2**62) - 1],
                np.arange(BIG, dtype=np.int64) - 2**61,
            ]
        ),
        np.array([hi - BIG + i for i in range(BIG)], dtype=np.int64),
    ]
    for t in cases:
        check_append(SeriesBuffer(1 << 17, ["float64"], allow_equal), t)


@pytest.mark.parametrize("allow_equal", [False, True])
@pytest.mark.parametrize("size", [100, BIG, BIG + 5])
def test_fall_past_the_fast_range_is_found_anywhere(allow_equal, size):
    """Rising to 2**62 - 1, then one time just below -2**62 (a fall of more than
    2**63, whose wrapped difference looks like a rise), then rising again inside
    the fast range: only the range check of that one time can catch it."""
    for at in positions(size):
        t = np.empty(size, dtype=np.int64)
        t[:at] = 2**62 - at + np.arange(at)
        t[at] = -(2**62) - 2
        t[at + 1 :] = -(2**62) + np.arange(size - at - 1)
        check_append(SeriesBuffer(1 << 16, ["float64"], allow_equal), t)


@pytest.mark.parametrize("allow_equal", [False, True])
def test_wrap_point_is_checked(allow_equal):
    capacity = 3 * BIG
    # (streaming, short), (streaming, short), (streaming, streaming) segments
    for fill, size in (
        (2 * BIG + 3, BIG + 1),
        (2 * BIG - 1, BIG + 999),
        (3 * BIG // 2, 2 * BIG),
    ):
        first = capacity - fill  # points before the wrap
        for defect_at in (None, first - 1, first, first + 1):
            buf = SeriesBuffer(capacity, ["float64"], allow_equal)
            assert check_append(buf, np.arange(fill, dtype=np.int64))
            buf.pop_oldest(fill)  # cursor near the end: the next batch wraps
            t = np.arange(fill, fill + size, dtype=np.int64)
            if defect_at is not None:
                t[defect_at] = t[defect_at - 1] - 1
            check_append(buf, t)


def test_refusals_before_any_copy():
    buf = SeriesBuffer(BIG, ["float64"])
    t = np.arange(BIG + 1, dtype=np.int64)
    assert not buf.append_checked(t, [t.astype(float)])  # does not fit
    assert not buf.append_checked(t[:10], [])  # wrong number of columns
    assert buf.count == 0 and buf.empty
    assert buf.append_checked(t[:0], [t[:0].astype(float)])
    assert buf.count == 0


@pytest.mark.parametrize("duplicates", ["last", "keep"])
def test_extend_matches_sorted_oracle(duplicates):
    """Engine level: in-order, out-of-order and equal-time batches of every size
    read back exactly as a stable sort of everything written."""
    engine = tsengine.Engine()
    engine.create_table(
        "t", fields={"v": "float64"}, ring_capacity=1 << 17, duplicates=duplicates
    )
    s = engine.series("t")
    rng = np.random.default_rng(5)
    written_t, written_v = [], []
    start = 0
    for size in (BIG, 9, BIG + 3, 2 * BIG, BIG):
        t = np.arange(start, start + size, dtype=np.int64) * 2
        if size == 2 * BIG:
            t[size // 2] = t[size // 2 - 1] - 3  # out of order: merge path
        v = rng.random(size)
        s.extend(t, v=v)
        written_t.append(t), written_v.append(v)
        start += size
    got = engine.read("t")
    t_all, v_all = np.concatenate(written_t), np.concatenate(written_v)
    order = np.argsort(t_all, kind="stable")
    assert np.array_equal(got.column("time").cast("int64").to_numpy(), t_all[order])
    assert np.array_equal(got.column("v").to_numpy(), v_all[order])

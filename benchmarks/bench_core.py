"""Engine core throughput, each figure next to a baseline timed in the same run.

Run ``pytest benchmarks/bench_core.py`` for pytest-benchmark tables, or call
:func:`core_figures` (the ``tsengine bench`` report does) for the ratios the issue
targets:

- single series, 64k-point batches of (time, float64) via ``Series.extend`` against
  ``numpy.copyto`` of the same bytes (target >= 0.5);
- long format, 10,000 series, 1M-row batches in random series order (>= 30 M
  points/s), next to a pandas ``groupby`` of the same batch as a familiar yardstick:
  once while the rings fill, and once sustained (rings full, every sealed chunk
  compressed before the clock stops);
- ``Series.append`` one point at a time (>= 3 M points/s), next to ``list.append``;
- ``read`` of 10 M points of one series (>= 2 GB/s), next to a numpy copy;
- ``latest`` among 10,000 series (median <= 20 us);
- hot-tier bytes per (time, float64) point (<= 17).
"""

from __future__ import annotations

import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import tsengine

BATCH = 65_536
LONG_ROWS = 1_000_000
LONG_SERIES = 10_000


def _best(fn, repeat: int) -> float:
    """Best wall time of ``repeat`` calls after one warm-up, in seconds."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def single_series(repeat: int = 30) -> dict:
    """Series.extend of 64k (time, float64) points vs numpy.copyto of both columns."""
    engine = tsengine.Engine()
    engine.create_table("t", fields={"v": "float64"}, ring_capacity=1 << 26)
    series = engine.series("t")
    values = np.random.default_rng(1).random(BATCH)
    base_t = np.arange(BATCH, dtype=np.int64)
    step = [0]

    def write():
        step[0] += 1
        series.extend(base_t + step[0] * BATCH, v=values)

    dst_v, dst_t = np.empty(BATCH), np.empty(BATCH, np.int64)

    def copy():
        np.copyto(dst_t, base_t + step[0] * BATCH)
        np.copyto(dst_v, values)

    t_copy = _best(copy, repeat)
    t_write = _best(write, repeat)
    return {
        "benchmark": "single series extend, 64k points",
        "unit": "M points/s",
        "tsengine": BATCH / t_write / 1e6,
        "baseline_name": "numpy.copyto (time+value)",
        "baseline": BATCH / t_copy / 1e6,
        "target": ">= 0.5x baseline",
    }


def long_batches(
    n_batches: int = 4, rows: int = LONG_ROWS, series: int = LONG_SERIES
) -> list[pa.Table]:
    """Long-format batches: random series order, dictionary-encoded asset tag."""
    rng = np.random.default_rng(7)
    names = pa.array([f"A-{i:05d}" for i in range(series)])
    out = []
    for b in range(n_batches):
        codes = rng.integers(0, series, rows).astype(np.int32)
        times = np.sort(rng.integers(b * 10**12, (b + 1) * 10**12, rows))
        out.append(
            pa.table(
                {
                    "time": times,
                    "asset": pa.DictionaryArray.from_arrays(pa.array(codes), names),
                    "v": rng.random(rows),
                }
            )
        )
    return out


def long_format(n_batches: int = 4, rows: int = LONG_ROWS) -> dict:
    """engine.write of 1M-row batches over 10,000 series vs pandas groupby."""
    batches = long_batches(n_batches + 1, rows)
    engine = tsengine.Engine()
    engine.create_table(
        "m", tags=["asset"], fields={"v": "float64"}, ring_capacity=1 << 12
    )
    engine.write("m", batches[0])  # warm-up: creates the 10,000 rings
    times = []
    for batch in batches[1:]:
        start = time.perf_counter()
        engine.write("m", batch)
        times.append(time.perf_counter() - start)
    frame = batches[1].to_pandas()
    t_pd = _best(lambda: frame.groupby("asset", observed=True)["v"].last(), 3)
    return {
        "benchmark": "long format write, 10k series, 1M-row batches",
        "unit": "M points/s",
        "tsengine": rows / min(times) / 1e6,
        "baseline_name": "pandas groupby-last of the batch",
        "baseline": rows / t_pd / 1e6,
        "target": ">= 30 M points/s",
    }


#: Ring capacity of the sustained figure: 10,000 such rings hold 655 MB hot.
SUSTAINED_CAPACITY = 4096


def long_format_sustained(batches: int = 8, rows: int = LONG_ROWS) -> dict:
    """Long format once every ring is full, compression included.

    :func:`long_format` times batches while the rings still have room. Here the
    rings of the 10,000 series are filled first; then every batch seals the
    oldest quarter of many rings, and the clock stops only when the background
    compactor has encoded every sealed chunk (``engine.flush()``). Memory stays
    bounded only at a rate compression keeps up with, so this is the rate a
    plant can feed the engine for hours.
    """
    data = long_batches(4, rows)
    span = 10**12 * len(data)  # each batch covers 10**12 ns; repeats move on

    def batch(i: int) -> pa.Table:
        b = data[i % len(data)]
        shift = pa.scalar((i // len(data)) * span, pa.int64())
        return b.set_column(0, "time", pc.add(b["time"], shift))

    engine = tsengine.Engine()
    engine.create_table(
        "m", tags=["asset"], fields={"v": "float64"}, ring_capacity=SUSTAINED_CAPACITY
    )
    fill = -(-SUSTAINED_CAPACITY * LONG_SERIES // rows) + 1
    for i in range(fill):
        engine.write("m", batch(i))
    engine.flush()
    timed = [batch(i) for i in range(fill, fill + batches)]
    start = time.perf_counter()
    for b in timed:
        engine.write("m", b)
    engine.flush()
    elapsed = time.perf_counter() - start
    engine.close()
    frame = data[0].to_pandas()
    t_pd = _best(lambda: frame.groupby("asset", observed=True)["v"].last(), 3)
    return {
        "benchmark": "long format write, 10k full rings, compression included",
        "unit": "M points/s",
        "tsengine": batches * rows / elapsed / 1e6,
        "baseline_name": "pandas groupby-last of the batch",
        "baseline": rows / t_pd / 1e6,
        "target": ">= 30 M points/s",
    }


def append_points(n: int = 1_000_000) -> dict:
    """Series.append one point at a time vs list.append of (time, value)."""
    engine = tsengine.Engine()
    engine.create_table(
        "a", tags=["asset"], fields={"v": "float64"}, ring_capacity=1 << 21
    )
    series = engine.series("a", asset="P-101")
    series.append(-1, v=0.0)

    def run():
        append = series.append
        for i in range(n):
            append(i, v=0.5)

    start = time.perf_counter()
    run()
    t_engine = time.perf_counter() - start
    sink: list = []

    def baseline():
        push = sink.append
        for i in range(n):
            push((i, 0.5))

    start = time.perf_counter()
    baseline()
    t_list = time.perf_counter() - start
    return {
        "benchmark": "Series.append, one point per call",
        "unit": "M points/s",
        "tsengine": n / t_engine / 1e6,
        "baseline_name": "list.append((t, v))",
        "baseline": n / t_list / 1e6,
        "target": ">= 3 M points/s",
    }


def read_points(points: int = 10_000_000) -> dict:
    """engine.read of 10 M points of one series vs a numpy copy of the same bytes."""
    engine = tsengine.Engine()
    engine.create_table("r", fields={"v": "float64"}, ring_capacity=1 << 20)
    step = 1_000_000
    for lo in range(0, points, step):
        engine.write(
            "r",
            {
                "time": np.arange(lo, lo + step, dtype=np.int64),
                "v": np.random.default_rng(lo).random(step),
            },
        )
    t_read = _best(lambda: engine.read("r"), 5)
    src_t = np.arange(points, dtype=np.int64)
    src_v = np.random.default_rng(0).random(points)
    t_copy = _best(lambda: (src_t.copy(), src_v.copy()), 5)
    nbytes = points * 16
    return {
        "benchmark": "read 10M points of one series",
        "unit": "GB/s",
        "tsengine": nbytes / t_read / 1e9,
        "baseline_name": "numpy copy of time+value",
        "baseline": nbytes / t_copy / 1e9,
        "target": ">= 2 GB/s",
    }


def latest_one(calls: int = 5000) -> dict:
    """Median latency of latest() for one series among 10,000."""
    batch = long_batches(1, 200_000)[0]
    engine = tsengine.Engine()
    engine.create_table("l", tags=["asset"], fields={"v": "float64"}, ring_capacity=256)
    engine.write("l", batch)
    names = [f"A-{i:05d}" for i in range(LONG_SERIES)]
    lat = []
    for i in range(calls):
        where = {"asset": names[i % LONG_SERIES]}
        start = time.perf_counter()
        engine.latest("l", where=where)
        lat.append(time.perf_counter() - start)
    frame = batch.to_pandas().set_index("asset")
    base = []
    for i in range(min(calls, 500)):
        start = time.perf_counter()
        frame.loc[[names[i]]].tail(1)
        base.append(time.perf_counter() - start)
    return {
        "benchmark": "latest() of one series among 10k, median",
        "unit": "us",
        "tsengine": float(np.median(lat)) * 1e6,
        "baseline_name": "pandas .loc[asset].tail(1)",
        "baseline": float(np.median(base)) * 1e6,
        "target": "<= 20 us",
    }


def hot_bytes_per_point(points: int = 1 << 16) -> dict:
    """Measured bytes of the hot tier per (time, float64) point, ring full."""
    engine = tsengine.Engine()
    engine.create_table("b", fields={"v": "float64"}, ring_capacity=points)
    engine.write("b", {"time": np.arange(points), "v": np.zeros(points)})
    stats = engine.stats()["tables"]["b"]
    return {
        "benchmark": "hot tier memory per (time, float64) point",
        "unit": "bytes",
        "tsengine": stats["hot_bytes"] / stats["hot_points"],
        "baseline_name": "raw int64 + float64",
        "baseline": 16.0,
        "target": "<= 17 bytes",
    }


def core_figures(quick: bool = False) -> list[dict]:
    """Every core figure with its baseline, for the bench report."""
    return [
        single_series(10 if quick else 30),
        long_format(2 if quick else 4),
        long_format_sustained(2 if quick else 8),
        append_points(300_000 if quick else 1_000_000),
        read_points(2_000_000 if quick else 10_000_000),
        latest_one(1000 if quick else 5000),
        hot_bytes_per_point(),
    ]


# -- pytest-benchmark views --------------------------------------------------------


@pytest.fixture(scope="module")
def long_data():
    return long_batches(2, 200_000)


def test_extend_64k(benchmark):
    engine = tsengine.Engine()
    engine.create_table("t", fields={"v": "float64"}, ring_capacity=1 << 26)
    series = engine.series("t")
    values = np.random.default_rng(1).random(BATCH)
    step = [0]

    def write():
        step[0] += 1
        series.extend(np.arange(BATCH, dtype=np.int64) + step[0] * BATCH, v=values)

    benchmark(write)


def test_copyto_64k_baseline(benchmark):
    src_t, src_v = (
        np.arange(BATCH, dtype=np.int64),
        np.random.default_rng(1).random(BATCH),
    )
    dst_t, dst_v = np.empty_like(src_t), np.empty_like(src_v)
    benchmark(lambda: (np.copyto(dst_t, src_t), np.copyto(dst_v, src_v)))


def test_long_format_write(benchmark, long_data):
    def setup():
        engine = tsengine.Engine()
        engine.create_table("m", tags=["asset"], fields={"v": "float64"})
        engine.write("m", long_data[0])
        return (engine,), {}

    benchmark.pedantic(lambda e: e.write("m", long_data[1]), setup=setup, rounds=5)


def test_latest_one_of_10k(benchmark, long_data):
    engine = tsengine.Engine()
    engine.create_table("l", tags=["asset"], fields={"v": "float64"})
    engine.write("l", long_data[0])
    benchmark(lambda: engine.latest("l", where={"asset": "A-00042"}))


if __name__ == "__main__":
    for row in core_figures():
        print(row)

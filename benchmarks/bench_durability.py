"""Ingest throughput of a durable engine next to the in-memory engine.

The same batches (long format: 10 assets, one float field, 1 s apart) are written to
``Engine()`` (the baseline) and to ``Engine(path, durability=...)`` for each mode. A
durable write serialises the batch to the log (Arrow IPC) and hands it to the kernel;
``"interval"`` fsyncs in the background, ``"sync"`` before each write returns. The
log size triggers checkpoints during the run (``checkpoint_bytes`` below), so their
cost is in the figure; the final ``close()`` (one more checkpoint) is timed apart.

Target (issue 3): ``"interval"`` at least 70 % of in-memory throughput.

Run as pytest-benchmark::

    pytest benchmarks/bench_durability.py --benchmark-only

or as a plain function for the ``tsengine bench`` report::

    python -c "from benchmarks.bench_durability import durability_figures as f; \\
print(f())"
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import tsengine

SERIES = 10
BATCH_ROWS = 20_000
CHECKPOINT_BYTES = 16 << 20


def make_batches(points: int, batch_rows: int = BATCH_ROWS) -> list[pa.Table]:
    """Sensor-like rows: ``SERIES`` assets, 1 s apart, readings with 2 decimals."""
    rng = np.random.default_rng(0)
    per = points // SERIES
    times = np.repeat(np.arange(per, dtype=np.int64) * 10**9, SERIES)
    codes = np.tile(np.arange(SERIES, dtype=np.int32), per)
    assets = pa.DictionaryArray.from_arrays(
        pa.array(codes), pa.array([f"P-{i:03d}" for i in range(SERIES)])
    )
    values = np.round(20 + np.cumsum(rng.normal(0, 0.1, per * SERIES)), 2)
    table = pa.table({"time": times, "asset": assets, "vibration": values})
    return [table.slice(i, batch_rows) for i in range(0, table.num_rows, batch_rows)]


def _new_engine(directory: Path | None, durability: str) -> tsengine.Engine:
    if directory is None:
        engine = tsengine.Engine()
    else:
        engine = tsengine.Engine(
            directory, durability=durability, checkpoint_bytes=CHECKPOINT_BYTES
        )
    engine.create_table("pump", tags=["asset"], fields={"vibration": "float64"})
    return engine


def _one_run(durability: str | None, batches: list[pa.Table]) -> dict[str, float]:
    """Ingest every batch once, then close; wall and CPU seconds, bytes on disk."""
    workdir = Path(tempfile.mkdtemp(prefix="tse-bench-"))
    try:
        engine = _new_engine(
            None if durability is None else workdir / "e", durability or ""
        )
        start, cpu_start = time.perf_counter(), time.process_time()
        for batch in batches:
            engine.write("pump", batch)
        ingest = time.perf_counter() - start
        start = time.perf_counter()
        engine.close()
        return {
            "ingest_s": ingest,
            "close_s": time.perf_counter() - start,
            # CPU seconds of every thread (log sync, compactor, checkpoints): less
            # sensitive to other load on the machine than wall time
            "cpu_s": time.process_time() - cpu_start,
            "disk_bytes": sum(
                p.stat().st_size for p in workdir.rglob("*") if p.is_file()
            ),
        }
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def durability_figures(points: int = 2_000_000, rounds: int = 5) -> dict:
    """Ingest rate per durability mode next to in-memory, and the ratios.

    Modes are interleaved round by round, so a change in the machine's load hits
    all of them alike; each figure is the best of ``rounds``.
    """
    batches = make_batches(points)
    warm = _new_engine(None, "")  # warm-up: imports, codec kernels
    warm.write("pump", batches[0])
    warm.close()
    modes = [None, "interval", "sync", "none"]
    runs: dict = {mode: [] for mode in modes}
    for _ in range(rounds):
        for mode in modes:
            runs[mode].append(_one_run(mode, batches))

    figures: dict = {"points": points, "batch_rows": BATCH_ROWS, "rounds": rounds}
    for mode in modes:
        best = min(runs[mode], key=lambda r: r["ingest_s"])
        figures[mode or "memory"] = {
            "points_per_s": points / best["ingest_s"],
            "close_s": best["close_s"],
            "points_per_s_with_close": points / (best["ingest_s"] + best["close_s"]),
            "cpu_points_per_s": points / min(r["cpu_s"] for r in runs[mode]),
            "disk_bytes": best["disk_bytes"],
        }
    memory = figures["memory"]
    for mode in modes[1:]:
        got = figures[mode]
        for key in ("points_per_s", "points_per_s_with_close", "cpu_points_per_s"):
            got[f"ratio_{key}"] = got[key] / memory[key]
    figures["disk_bits_per_point"] = 8 * figures["interval"]["disk_bytes"] / points
    return figures


# -- pytest-benchmark ----------------------------------------------------------------


@pytest.fixture(scope="module")
def batches():
    return make_batches(1_000_000)


def _ingest(durability: str | None, batches) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="tse-bench-"))
    try:
        engine = _new_engine(
            None if durability is None else workdir / "e", durability or ""
        )
        for batch in batches:
            engine.write("pump", batch)
        engine.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.mark.benchmark(group="durability-ingest-1M")
@pytest.mark.parametrize("durability", [None, "none", "interval", "sync"])
def test_ingest(benchmark, batches, durability):
    _ingest(None, batches[:2])  # warm-up
    benchmark.pedantic(lambda: _ingest(durability, batches), rounds=3)
    benchmark.extra_info["points"] = sum(b.num_rows for b in batches)


if __name__ == "__main__":
    import json

    print(json.dumps(durability_figures(), indent=1))

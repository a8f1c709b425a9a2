"""Concurrent aggregates on Numba's workqueue threading layer do not kill the process.

The workqueue layer (Numba's fallback when neither OpenMP nor TBB loads) aborts the
process when two threads launch parallel kernels at once. The child below forces
that layer and aggregates from four threads; it must exit cleanly with every result
equal to the one computed alone.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from tsengine.window import threads

CHILD = textwrap.dedent(
    """
    import threading

    import numba
    import numpy as np
    import pyarrow as pa

    from tsengine.window import aggregate_table

    n = 100_000
    t = np.arange(n, dtype=np.int64) * 1_000_000
    table = pa.table(
        {"time": pa.array(t, pa.timestamp("ns", "UTC")), "v": np.arange(n) % 97 * 0.5}
    )
    aggs = {"v": ["count", "mean", "max", "p90"]}
    alone = aggregate_table(table, every="1s", aggs=aggs, tag_columns=[])
    wrong = []

    def work():
        for _ in range(15):
            got = aggregate_table(table, every="1s", aggs=aggs, tag_columns=[])
            if not got.equals(alone):
                wrong.append(got)

    workers = [threading.Thread(target=work) for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert numba.threading_layer() == "workqueue", numba.threading_layer()
    assert not wrong
    print("ok")
    """
)


def test_concurrent_aggregates_survive_the_workqueue_layer():
    env = dict(os.environ, NUMBA_THREADING_LAYER="workqueue")
    done = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"


def test_layer_choice_follows_numba(monkeypatch):
    monkeypatch.setattr(threads.numba.config, "THREADING_LAYER", "workqueue")
    assert not threads.thread_safe_layer()
    monkeypatch.setattr(threads.numba.config, "THREADING_LAYER", "omp")
    assert threads.thread_safe_layer()
    monkeypatch.setattr(threads.numba.config, "THREADING_LAYER", "default")
    monkeypatch.setattr(
        threads.numba.config, "THREADING_LAYER_PRIORITY", ["workqueue", "omp"]
    )
    assert not threads.thread_safe_layer()
    monkeypatch.setattr(threads, "_loads", lambda layer: layer == "omp")
    monkeypatch.setattr(
        threads.numba.config, "THREADING_LAYER_PRIORITY", ["tbb", "omp", "workqueue"]
    )
    assert threads.thread_safe_layer()
    monkeypatch.setattr(threads, "_loads", lambda layer: False)
    assert not threads.thread_safe_layer()

"""Kill a writing process with SIGKILL at random moments; nothing acknowledged is lost.

A child process (this file run as a script) writes batches to a durable engine and
reports each batch on stdout before the write and once the write returned. The parent
kills it after a random number of acknowledgements plus a random delay, reopens the
directory and checks, against the child's own reports:

- every acknowledged row is present exactly once (the table keeps duplicates, so a
  record applied twice would show);
- no row is present that the child never tried to write, and the one batch in
  flight at the kill is present whole or not at all;
- every value is the one written.

The same directory is reused across runs, so later runs also recover from the
checkpoints, segments and log files that earlier kills left behind. Tiny checkpoint
and log-file sizes make kills land inside checkpoints and rotations too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
RUNS = int(os.environ.get("TSENGINE_CRASH_RUNS", "20"))
INTERVAL_RUNS = int(os.environ.get("TSENGINE_CRASH_INTERVAL_RUNS", "3"))
CHILD_TIMEOUT = 20.0  # seconds a child may take to reach its kill point


def expected_values(ids: np.ndarray) -> np.ndarray:
    return ids * 0.5 + 0.25


# -- the child -------------------------------------------------------------------------


def child(path: str, durability: str, run: int) -> None:
    """Write batches forever, reporting ``start`` and ``ack`` lines."""
    import tsengine

    rng = np.random.default_rng(run)
    engine = tsengine.Engine(
        path, durability=durability, checkpoint_bytes=48_000, wal_file_bytes=12_000
    )
    engine.create_table(
        "crash",
        tags=["dev"],
        fields={"id": "int64", "v": "float64"},
        ring_capacity=512,
        duplicates="keep",
        exist_ok=True,
    )
    next_id = run * 10**9
    for batch in range(10**9):
        n = int(rng.integers(1, 300))
        ids = np.arange(next_id, next_id + n, dtype=np.int64)
        next_id += n
        # Times are unique (normal rows 4*id, late rows 4*id - 11999): late rows land
        # among sealed chunks and take the merge path
        times = 4 * ids
        if rng.random() < 0.15:
            times = times - 11999
        order = rng.permutation(n) if rng.random() < 0.3 else np.arange(n)
        print(f"start {batch} {ids[0]} {n}", flush=True)
        engine.write(
            "crash",
            {
                "time": times[order],
                "dev": [f"d{i % 3}" for i in ids[order]],
                "id": ids[order],
                "v": expected_values(ids[order]),
            },
        )
        print(f"ack {batch}", flush=True)
        if rng.random() < 0.03:
            engine.flush()


# -- the parent ------------------------------------------------------------------------


def run_and_kill(path: Path, durability: str, run: int, rng) -> tuple[list, tuple]:
    """Start a child, kill it at a random moment; return acked and in-flight ids."""
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    proc = subprocess.Popen(
        [sys.executable, __file__, str(path), durability, str(run)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines: list[str] = []
    acks = threading.Semaphore(0)

    def pump() -> None:
        for line in proc.stdout:
            lines.append(line.split())
            if line.startswith("ack"):
                acks.release()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()

    # Kill after a random number of acknowledgements and a random extra delay
    target = int(rng.integers(1, 30))
    deadline = time.monotonic() + CHILD_TIMEOUT
    for _ in range(target):
        if not acks.acquire(timeout=max(0.0, deadline - time.monotonic())):
            proc.kill()
            pytest.fail(f"child made no progress: {proc.stderr.read()[-2000:]}")
    time.sleep(float(rng.uniform(0, 0.02)))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    reader.join()
    proc.stderr.close()

    # Batches whose write returned, and the one that may have been in flight
    started = {int(w[1]): (int(w[2]), int(w[3])) for w in lines if w[0] == "start"}
    acked = {int(w[1]) for w in lines if w[0] == "ack"}
    done = [started[b] for b in sorted(acked)]
    pending = [started[b] for b in started if b not in acked]
    assert len(pending) <= 1
    return done, (pending[0] if pending else None)


def check(
    path: Path, acked_ids: list[np.ndarray], maybe: list[np.ndarray]
) -> np.ndarray:
    """Reopen and verify; return the ids stored."""
    import tsengine

    with tsengine.Engine(path, durability="none") as engine:
        assert engine._store.errors == [], engine._store.errors
        table = engine.read("crash") if "crash" in engine.tables() else None
        if table is None:
            assert not acked_ids
            return np.empty(0, np.int64)
        ids = table.column("id").to_numpy()
        values = table.column("v").to_numpy()
        devs = table.column("dev").cast("string").to_pylist()

    # Exactly once, and nothing that was never written
    unique, counts = np.unique(ids, return_counts=True)
    assert counts.max(initial=1) == 1, f"ids stored twice: {unique[counts > 1][:10]}"
    must = np.concatenate(acked_ids) if acked_ids else np.empty(0, np.int64)
    missing = np.setdiff1d(must, unique)
    assert missing.size == 0, f"{missing.size} acknowledged rows lost: {missing[:10]}"
    extra = np.setdiff1d(unique, must)
    allowed = np.concatenate(maybe) if maybe else np.empty(0, np.int64)
    assert np.setdiff1d(extra, allowed).size == 0, "rows nobody wrote"
    for batch in maybe:
        present = np.isin(batch, unique)
        assert present.all() or not present.any(), "a batch was half applied"

    # The values are the ones written
    assert np.array_equal(values, expected_values(ids))
    assert devs == [f"d{i % 3}" for i in ids]
    return unique


@pytest.mark.filterwarnings("ignore:write-ahead log .* torn last record")
@pytest.mark.parametrize(
    ("durability", "runs"), [("sync", RUNS), ("interval", INTERVAL_RUNS)]
)
def test_sigkill_loses_no_acknowledged_write(tmp_path, durability, runs):
    """``sync`` is the contract; ``interval`` must also survive a process kill
    (only an OS crash may lose its last interval)."""
    rng = np.random.default_rng(2024)
    path = tmp_path / "engine"
    acked_ids: list[np.ndarray] = []
    maybe: list[np.ndarray] = []
    for run in range(1, runs + 1):
        done, pending = run_and_kill(path, durability, run, rng)
        acked_ids += [np.arange(first, first + n) for first, n in done]
        if pending is not None:
            maybe.append(np.arange(pending[0], pending[0] + pending[1]))
        stored = check(path, acked_ids, maybe)

        # A batch in flight at the kill was kept or not; from now on it must stay so
        acked_ids += [b for b in maybe if np.isin(b, stored).all()]
        maybe = []


if __name__ == "__main__":
    child(sys.argv[1], sys.argv[2], int(sys.argv[3]))

"""Rollups of a durable engine across restarts and crashes.

The reference is the same stream written to an in-memory engine without interruption.
Values are multiples of 1/8, so sums are exact in any order: a late point added before
or after its neighbours gives the same bits, and the comparison can be exact.

The crash cases run a child process (this file as a script) that writes part of the
stream and dies with ``os._exit`` -- after a write returned, or between a write's log
record and its rollup rows -- and the parent reopens the directory and writes the
rest.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import tsengine
from tsengine.errors import CorruptionError

REPO_ROOT = Path(__file__).resolve().parent.parent
S = 1_000_000_000
AGGS = {"v": ["count", "sum", "mean", "min", "max", "first", "last", "p90"]}


def stream(seed: int = 4, batches: int = 24) -> list[dict]:
    """Batches of two assets at 100 ms, each write ~1.5 s, with gaps (windows that
    close empty) and late points: some within the 2 s lateness, some beyond it."""
    rng = np.random.default_rng(seed)
    out = []
    t = 0
    for k in range(batches):
        n = int(rng.integers(10, 20))
        times = t + np.arange(n, dtype=np.int64) * S // 10
        t = int(times[-1]) + S // 10
        if k % 5 == 4:
            t += 3 * S  # a gap: windows that close with nothing in them
        # Late points off the 100 ms grid (a point at a taken time would be an
        # upsert, which the rollup counts twice): within, then beyond the lateness
        late = [t - S - S // 2 + S // 20, t - 6 * S + S // 20]
        times = np.concatenate([times, np.array(late, np.int64)])
        out.append(
            {
                "time": times,
                "asset": rng.choice(["A", "B"], times.size).tolist(),
                "v": rng.integers(-80, 80, times.size) / 8.0,
            }
        )
    return out


def make(engine: tsengine.Engine) -> None:
    engine.create_table("pump", tags=["asset"], fields={"v": "float64"})
    engine.create_rollup(
        "r", "pump", "1s", AGGS, by=["asset"], lateness="2s", late="side"
    )


def rows(engine: tsengine.Engine, name: str) -> pa.Table:
    table = engine.read(name)
    i = table.schema.get_field_index("asset")
    table = table.set_column(i, "asset", table.column("asset").cast(pa.string()))
    return table.sort_by([("time", "ascending"), ("asset", "ascending")])


@pytest.fixture(scope="module")
def reference():
    """The uninterrupted run: rollup, side table and late count."""
    engine = tsengine.Engine()
    make(engine)
    for batch in stream():
        engine.write("pump", batch)
    late = engine.stats()["rollups"]["r"]["late_side"]
    return rows(engine, "r"), rows(engine, "r_late"), late


def assert_same(engine, reference, late_before=0):
    want_r, want_side, want_late = reference
    got = rows(engine, "r")
    assert got.num_rows == want_r.num_rows
    assert got.equals(want_r)
    assert rows(engine, "r_late").equals(want_side)
    late = late_before + engine.stats()["rollups"]["r"]["late_side"]
    assert late == want_late


@pytest.mark.parametrize("split", [1, 5, 9, 10, 17])
def test_restart_mid_stream_equals_an_uninterrupted_run(tmp_path, reference, split):
    batches = stream()
    engine = tsengine.Engine(tmp_path / "db", durability="none")
    make(engine)
    for batch in batches[:split]:
        engine.write("pump", batch)
    late_before = engine.stats()["rollups"]["r"]["late_side"]
    open_before = engine.stats()["rollups"]["r"]["open_windows"]
    engine.close()

    engine = tsengine.Engine(tmp_path / "db", durability="none")
    assert engine.rollups() == ["r"]
    assert engine.stats()["rollups"]["r"]["open_windows"] == open_before
    for batch in batches[split:]:
        engine.write("pump", batch)
    assert_same(engine, reference, late_before)


def test_a_late_point_in_an_empty_closed_window_stays_out_after_restart(tmp_path):
    """No row marks a window that closed empty, so a point dropped there would
    look on time to the rebuild; the remembered frontier keeps it out."""

    def write(engine, seconds):
        times = (np.array(seconds) * S).astype(np.int64)
        engine.write("pump", {"time": times, "asset": ["A"] * len(times), "v": [1.0]})

    engine = tsengine.Engine(tmp_path / "db")
    engine.create_table("pump", tags=["asset"], fields={"v": "float64"})
    engine.create_rollup("r", "pump", "1s", {"v": ["count"]})
    write(engine, [0.5])
    write(engine, [5.5])  # window 0 closes with a row, 1-4 with none
    write(engine, [3.5])  # dropped
    assert engine.stats()["rollups"]["r"]["late_dropped"] == 1
    engine.close()

    saved = json.loads((tmp_path / "db" / "rollups.json").read_text())
    assert saved["rollups"]["r"]["frontier"] == 5
    engine = tsengine.Engine(tmp_path / "db")
    write(engine, [7.0])
    got = engine.read("r").column("time").cast(pa.int64()).to_pylist()
    assert got == [0, 5 * S]
    engine.close()


def test_definitions_survive_and_dropped_rollups_stay_dropped(tmp_path):
    engine = tsengine.Engine(tmp_path / "db")
    make(engine)
    engine.create_rollup("r2", "pump", "10s", {"v": ["sum"]})
    spec = engine._rollups.spec("r").to_dict()
    engine.drop_rollup("r2")
    engine.close()

    saved = json.loads((tmp_path / "db" / "rollups.json").read_text())
    assert sorted(saved["rollups"]) == ["r"]
    engine = tsengine.Engine(tmp_path / "db")
    assert engine.rollups() == ["r"]
    assert engine._rollups.spec("r").to_dict() == spec
    assert "r2" in engine.tables()  # its table stays readable
    engine.close()


def test_damaged_definitions_name_the_file(tmp_path):
    engine = tsengine.Engine(tmp_path / "db")
    make(engine)
    for batch in stream(batches=6):
        engine.write("pump", batch)
    engine.close()
    with tsengine.Engine(tmp_path / "db") as again:
        engine_rows = {t: again.read(t).num_rows for t in again.tables()}
    (tmp_path / "db" / "rollups.json").write_text('{"version": 1, "rollups": [')
    with pytest.raises(CorruptionError, match="rollups.json.*move the file aside"):
        tsengine.Engine(tmp_path / "db")
    # The remedy the message gives: without the file, every table is as it was.
    (tmp_path / "db" / "rollups.json").rename(tmp_path / "rollups.json.damaged")
    with tsengine.Engine(tmp_path / "db") as opened:
        assert opened.rollups() == []
        rows = {t: opened.read(t).num_rows for t in opened.tables()}
    assert rows == engine_rows and sum(rows.values()) > 0


# -- crashes ---------------------------------------------------------------------------


def child(path: str, split: int, gap: bool) -> None:
    """Write ``split`` batches and die; with ``gap``, die inside the last write,
    after its log record and before its rollup rows are written."""
    from tsengine.rollup.live import LiveRollup

    engine = tsengine.Engine(path, durability="sync")
    make(engine)
    batches = stream()
    for batch in batches[: split - 1]:
        engine.write("pump", batch)
    if gap:

        def die(self, *args):
            os._exit(0)

        LiveRollup._emit = die
    engine.write("pump", batches[split - 1])
    os._exit(0)


@pytest.mark.parametrize("gap", [False, True], ids=["after-write", "inside-write"])
@pytest.mark.parametrize("split", [4, 12])
def test_crash_mid_stream_loses_no_window_and_doubles_none(
    tmp_path, reference, split, gap
):
    path = str(tmp_path / "db")
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    subprocess.run(
        [sys.executable, __file__, path, str(split), str(int(gap))],
        env=env,
        check=True,
        timeout=120,
    )
    engine = tsengine.Engine(path, durability="sync")
    assert engine.rollups() == ["r"]
    for batch in stream()[split:]:
        engine.write("pump", batch)
    got = rows(engine, "r")
    keys = list(zip(got.column("time").to_pylist(), got.column("asset").to_pylist()))
    assert len(keys) == len(set(keys))
    want_r, want_side, _ = reference
    assert got.equals(want_r)
    assert rows(engine, "r_late").equals(want_side)
    engine.close()


if __name__ == "__main__":
    child(sys.argv[1], int(sys.argv[2]), bool(int(sys.argv[3])))

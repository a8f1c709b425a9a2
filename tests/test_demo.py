"""``tsengine demo``: the whole run in a subprocess, then its pieces one by one.

The end-to-end tests run the real command (durable engine, Flight server, rollups,
consumer process), then reopen the data directory and compare what is stored with
the packaged and SKAB files read independently (``csv``, ``gzip``, ``datetime``).
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import math
import os
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import tsengine
from tsengine import data
from tsengine.demo import kpis as kpi
from tsengine.demo.fleet import VibrationFleet
from tsengine.demo.replay import Recording, Replay
from tsengine.demo.summary import summary_lines
from tsengine.demo.view import PlainView, Snapshot

REPO = Path(__file__).resolve().parent.parent
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
HOUR = 3_600 * 10**9


def naive_utc_ns(text: str) -> int:
    moment = dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.UTC)
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 10**9


def int_times(table: pa.Table) -> list[int]:
    return table.column("time").cast(pa.int64()).to_pylist()


def run_demo_cli(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    )
    return subprocess.run(
        [sys.executable, "-m", "tsengine.cli.main", "demo", "--plain", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=REPO,
    )


# -- end to end ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("demo")
    done = run_demo_cli(
        "--duration", "5", "--data", str(base / "data"), "--out", str(base / "out")
    )
    summary_file = base / "out" / "summary.json"
    summary = json.loads(summary_file.read_text()) if summary_file.exists() else None
    return done, summary, base


@pytest.fixture(scope="module")
def reopened(demo_run):
    """The demo's data directory, opened again after the demo exited."""
    engine = tsengine.Engine(demo_run[2] / "data")
    yield engine
    engine.close()


def test_demo_exits_0_and_summarises(demo_run):
    done, summary, base = demo_run
    assert done.returncode == 0, done.stderr[-3000:]
    assert "sustained ingest" in done.stdout
    assert summary["sustained_points_per_s"] > 0
    assert summary["faulty_asset"] == summary["drifting_asset"]
    assert summary["drifting_rms_ratio"] > 1.0
    chart = Path(summary["chart"])
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_consumer_received_kpis_over_flight(demo_run):
    _, summary, _ = demo_run
    consumer = summary["consumer"]
    assert consumer["exit_code"] == 0 and "fatal" not in consumer
    assert consumer["errors"] == []
    assert consumer["calls"]["kpi_1s"] >= 1 and consumer["rows"]["kpi_1s"] >= 1
    assert consumer["assets_with_kpis"] == summary["assets"]
    assert consumer["latest_assets"] == summary["assets"]
    assert consumer["rows"]["raw"] > 0 and consumer["watched"]


def test_replayed_points_are_all_stored(demo_run, reopened):
    _, summary, _ = demo_run
    with open(data.path(data.NAB_MACHINE_TEMPERATURE), newline="") as f:
        nab = [(naive_utc_ns(t), float(v)) for t, v in list(csv.reader(f))[1:]]
    with gzip.open(data.path(data.CMAPSS_FD001), "rt") as f:
        cmapss = [line.split() for line in f if line.strip()]

    engine = reopened
    # NAB: every row, the repeated hour included
    got = engine.read("machine_temperature")
    assert got.num_rows == len(nab) == 22_695
    stored = zip(int_times(got), got.column("value").to_pylist())
    assert Counter(stored) == Counter(nab)

    # C-MAPSS: every engine, every cycle, sensors as in the file
    got = engine.read("turbofan")
    assert got.num_rows == len(cmapss) == 20_631
    expected = {(r[0], int(r[1])): float(r[19]) for r in cmapss}  # sensor15
    t0 = (dt.datetime(2000, 1, 1, tzinfo=dt.UTC) - EPOCH).days * 86_400 * 10**9
    stored = {
        (u, (t - t0) // HOUR): v
        for u, t, v in zip(
            got.column("unit").to_pylist(),
            int_times(got),
            got.column("sensor15").to_pylist(),
        )
    }
    assert stored == expected

    # vibration: what the summary counted; rollups readable after reopening
    assert (
        engine.stats()["tables"]["vibration"]["points"]
        == (summary["tables"]["vibration"])
    )
    assert engine.read(kpi.KPI_1S).num_rows >= summary["kpi_windows_1s"] > 0


def test_one_minute_window_closed_during_the_run(demo_run, reopened):
    # the feed's clock starts just before a whole minute: exactly one closed
    # 1-minute window per asset in a 5 s run, cascaded from the 1-second windows
    # and holding every sample of that minute
    _, summary, _ = demo_run
    minute = reopened.read(kpi.KPI_1M)
    assert minute.num_rows == summary["assets"]
    (start,) = set(int_times(minute))
    raw = reopened.read("vibration", start=start, end=start + 60 * 10**9)
    assert sum(minute.column("accel_count_sum").to_pylist()) == raw.num_rows > 0
    peaks = minute.column("accel_max_max").to_pylist()
    assert max(peaks) == max(raw.column("accel").to_pylist())


def test_a_closed_kpi_window_equals_the_raw_aggregate(reopened):
    rollup = reopened.read(kpi.KPI_1S, where={"asset": "P-002"})
    start = int_times(rollup)[0]
    raw = reopened.read(
        "vibration", start=start, end=start + 10**9, where={"asset": "P-002"}
    )
    x = raw.column("accel").to_numpy()
    row = rollup.slice(0, 1).to_pylist()[0]
    assert row["accel_count"] == len(x) > 0
    assert (row["accel_min"], row["accel_max"]) == (x.min(), x.max())
    assert math.isclose(row["accel_mean"], x.mean(), rel_tol=1e-9, abs_tol=1e-12)
    assert math.isclose(row["accel_std"], x.std(ddof=1), rel_tol=1e-9)
    (k,) = kpi.kpis(rollup.slice(0, 1))
    assert math.isclose(k.rms, math.sqrt(np.mean(x * x)), rel_tol=1e-9)
    assert k.peak == np.abs(x).max()


@pytest.mark.parametrize("folder", ["valve1", "other"])
def test_replay_of_skab_files_stores_every_row(shared_data, tmp_path, folder):
    files = sorted((shared_data / "skab" / folder).glob("*.csv"))
    expected = {}
    for path in files:
        with open(path, newline="") as f:
            rows = list(csv.reader(f, delimiter=";"))
        column = rows[0].index("Pressure")
        expected[f"{folder}/{path.stem}"] = sorted(
            (naive_utc_ns(r[0]), float(r[column])) for r in rows[1:]
        )
    done = run_demo_cli(
        "--duration", "3", "--assets", "4", "--data", str(tmp_path / "d"),
        "--out", str(tmp_path / "o"), "--replay", *map(str, files),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    with tsengine.Engine(tmp_path / "d") as engine:
        got = engine.read("skab", fields=["Pressure"])
    stored = defaultdict(list)
    for e, t, p in zip(
        got.column("experiment").to_pylist(),
        int_times(got),
        got.column("Pressure").to_pylist(),
    ):
        stored[e].append((t, p))
    assert {e: sorted(v) for e, v in stored.items()} == expected
    assert got.num_rows == sum(map(len, expected.values()))


# -- the pieces ------------------------------------------------------------------------


def test_fleet_batches_continue_without_gaps():
    fleet = VibrationFleet(assets=3, sample_rate=1000, start_ns=5 * 10**9)
    first, second = fleet.next_batch(700), fleet.next_batch(500)
    for asset in fleet.names:
        times = []
        for batch in (first, second):
            mask = [a == asset for a in batch.column("asset").to_pylist()]
            times += int_times(batch.filter(mask))
        assert times == [5 * 10**9 + i * 10**6 for i in range(1200)]
    values = np.concatenate([b.column("accel").to_numpy() for b in (first, second)])
    assert np.array_equal(values, np.round(values, 4))  # on the 1e-4 g grid


def test_fleet_fault_grows_on_one_asset_only():
    fleet = VibrationFleet(
        assets=4, sample_rate=2000, start_ns=0, faulty=2, fault_ramp_s=10.0
    )
    rms = defaultdict(list)
    for _ in range(10):  # ten seconds of signal, one second per batch
        batch = fleet.next_batch(2000)
        x = batch.column("accel").to_numpy().reshape(4, 2000)
        for a, name in enumerate(fleet.names):
            rms[name].append(float(np.sqrt(np.mean(x[a] ** 2))))
    for name in fleet.names:
        ratio = rms[name][-1] / rms[name][0]
        if name == fleet.faulty_name == "P-003":
            assert ratio > 2.0
        else:
            assert 0.9 < ratio < 1.1, (name, ratio)


def test_fleet_rejects_bad_settings():
    with pytest.raises(ValueError, match="divide 1e9"):
        VibrationFleet(assets=1, sample_rate=30_000, start_ns=0)
    with pytest.raises(ValueError, match="assets=0"):
        VibrationFleet(assets=0, sample_rate=1000, start_ns=0)


def test_kpis_from_rollup_columns_match_numpy():
    # rollup-shaped rows (count, mean, sample std, min, max) of two 1 s windows
    rng = np.random.default_rng(3)
    x = np.round(rng.normal(0.2, 0.5, 4000), 4)
    parts = (x[:2000], x[2000:])
    rows = pa.table(
        {
            "time": pa.array([0, 10**9], pa.timestamp("ns", tz="UTC")),
            "asset": ["P-1", "P-1"],
            "accel_count": [len(p) for p in parts],
            "accel_mean": [p.mean() for p in parts],
            "accel_std": [p.std(ddof=1) for p in parts],
            "accel_min": [p.min() for p in parts],
            "accel_max": [p.max() for p in parts],
        }
    )
    items = kpi.kpis(rows)
    assert [k.start for k in items] == [0, 10**9]
    for k, part in zip(items, parts):
        assert k.count == 2000
        assert math.isclose(k.rms, math.sqrt(np.mean(part**2)), rel_tol=1e-12)
        assert k.peak == np.abs(part).max()
        assert math.isclose(k.crest, k.peak / k.rms)
    first, latest = kpi.first_per_asset(items), kpi.latest_per_asset(items)
    assert first["P-1"].start == 0 and latest["P-1"].start == 10**9
    (asset, ratio), *_ = kpi.drift(first, latest)
    assert asset == "P-1" and math.isclose(ratio, items[1].rms / items[0].rms)


def test_replay_hands_out_every_row_once_in_order():
    rows = pa.table({"time": pa.array(range(1000), pa.int64()), "v": [1.0] * 1000})
    replay = Replay([Recording("t", rows, [])], seconds=2.0)
    sent = []
    for elapsed in (0.0, 0.1, 0.55, 0.55, 1.3, 1.99, 2.5, 9.0):
        part = replay.due(elapsed)
        if "t" in part:
            sent += part["t"].column("time").to_pylist()
        assert len(sent) == min(int(1000 * elapsed / 2.0), 1000)
    assert sent == list(range(1000)) and replay.done


def test_plain_view_and_summary_text():
    out = io.StringIO()
    view = PlainView(stream=out, every=0.0)
    view.update(Snapshot(elapsed=1.0, points=2_500_000, rate=1.25e6, mean_rate=1.2e6))
    assert "ingest 1.25 M/s" in out.getvalue() and "2,500,000 points" in out.getvalue()
    summary = {
        "sustained_points_per_s": 1.31e6,
        "duration_s": 20.0,
        "rollups": ["vibration_1s", "vibration_1m"],
        "offered_points_per_s": 1.28e6,
        "lag_s_at_end": 0.0,
        "rows_stored": 10,
        "series": 2,
        "points_written": 12,
        "tables": {"vibration": 10},
        "memory_compression_ratio": 9.3,
        "segment_bytes": 10**6,
        "raw_bytes": 4 * 10**6,
        "consumer": {"polls": 3, "rows": {"kpi_1s": 128}, "calls": {"kpi_1s": 3}},
        "data_dir": "/d",
    }
    text = "\n".join(summary_lines(summary))
    assert "1.31 M points/s" in text and "9.3x" in text and "128 1 s KPI rows" in text


@pytest.mark.parametrize("rate", ["0", "-5", "30000"])
def test_demo_refuses_a_bad_sample_rate_before_creating_anything(tmp_path, rate):
    done = run_demo_cli(
        "--sample-rate", rate,
        "--data", str(tmp_path / "d"), "--out", str(tmp_path / "o"),
    )  # fmt: skip
    assert done.returncode == 2
    assert f"--sample-rate {rate}" in done.stderr
    assert not (tmp_path / "d").exists() and not (tmp_path / "o").exists()

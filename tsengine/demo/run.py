"""The demo run: one durable engine, a Flight server, a feed, rollups and a consumer.

:func:`run_demo` is what ``tsengine demo`` does, step by step:

1. load the recordings to replay (the packaged NAB and C-MAPSS data, user files);
2. open a durable engine, create the tables and the KPI rollups;
3. serve the engine over Arrow Flight on 127.0.0.1 and spawn the consumer process;
   compile every kernel once on a scratch engine, so no compilation lands in the
   timed loop;
4. for ``duration`` seconds, write ticks: the vibration fleet's due samples and the
   replay slices due, in one ``write_many`` call per tick (one log record, rollups
   updated on commit), refreshing the live view twice a second;
5. write what is left of the replay, stop the consumer and collect its report, flush,
   measure compression on disk, chart the drifting asset's KPIs and return a summary.

The feed is paced by the wall clock (``assets * sample_rate`` points/s, a real fleet's
load) unless ``flat_out``, when it writes as fast as the engine takes it. Either way
the rate reported is points written during the timed loop over its wall time, with the
rollups, the Flight server and the consumer running. A point is one field value.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from tsengine.demo import kpis as kpi
from tsengine.demo.consumer import ConsumerProcess
from tsengine.demo.fleet import FIELD, TABLE, VibrationFleet
from tsengine.demo.replay import (
    CMAPSS_TABLE,
    NAB_TABLE,
    Recording,
    Replay,
    cmapss_fleet,
    nab_machine_temperature,
    user_recordings,
)
from tsengine.demo.view import PlainView, Snapshot

#: Seconds of signal per tick: least (paced) and most (catching up or flat out).
MIN_TICK_S = 0.05
MAX_TICK_S = 0.25
FLAT_OUT_TICK_S = 0.1
#: Share of the run over which the recordings are replayed.
REPLAY_SHARE = 0.6
VIEW_EVERY_S = 0.5
VIBRATION_RING = 1 << 16


@dataclass
class DemoConfig:
    """Options of one demo run; see ``tsengine demo --help`` for each."""

    duration: float = 20.0
    data: str | None = None
    out: str | None = None
    port: int = 0
    assets: int = 64
    sample_rate: int = 20_000
    flat_out: bool = False
    durability: str = "interval"
    packaged: bool = True
    replay: list[str] = field(default_factory=list)
    replay_options: Callable[[str], dict] = lambda path: {}
    chart: str | None = None
    consumer_interval: float = 0.5


def _load_recordings(config: DemoConfig) -> list[Recording]:
    recordings = []
    if config.packaged:
        recordings += [nab_machine_temperature(), cmapss_fleet()]
    if config.replay:
        recordings += user_recordings(config.replay, config.replay_options)
    return recordings


def _open_engine(config: DemoConfig, data_dir: Path, recordings: list[Recording]):
    """The engine with the demo's tables and rollups; drops from ``recordings`` the
    packaged ones an earlier run into the same directory already stored."""
    import tsengine

    engine = tsengine.Engine(data_dir, durability=config.durability)
    stored = engine.stats()["tables"]
    packaged = {NAB_TABLE, CMAPSS_TABLE}
    recordings[:] = [
        r
        for r in recordings
        if not (r.table in packaged and stored.get(r.table, {}).get("points", 0))
    ]
    engine.create_table(
        TABLE,
        tags=["asset"],
        fields={FIELD: "float64"},
        ring_capacity=VIBRATION_RING,
        exist_ok=True,
    )
    for rec in recordings:
        if rec.table not in engine.tables():
            engine.create_table(
                rec.table, tags=rec.tags, fields=rec.fields, duplicates=rec.duplicates
            )
    kpi.create_rollups(engine)
    return engine


def _points(table: pa.Table, tags: list[str]) -> int:
    """Non-null field values of a batch."""
    return sum(
        len(col) - col.null_count
        for name, col in zip(table.column_names, table.columns)
        if name != "time" and name not in tags
    )


def _table_sums(stats: dict, tables: list[str]) -> dict[str, int]:
    """Sums over ``tables`` of their ``engine.stats()`` counters: rows (``points``),
    series and bytes, plus ``segment_bytes`` and ``wal_bytes`` on disk."""
    per = stats["tables"]
    keys = (
        "points",
        "series",
        "raw_bytes",
        "sealed_bytes",
        "unencoded_bytes",
        "memory_bytes",
    )
    out = {k: sum(per.get(t, {}).get(k, 0) for t in tables) for k in keys}
    disk = stats.get("storage", {}).get("tables", {})
    for key in ("segment_bytes", "wal_bytes"):
        out[key] = sum(disk.get(t, {}).get(key, 0) for t in tables)
    return out


def _warm_up(config: DemoConfig, recordings: list[Recording]) -> None:
    """Run every kernel the timed loop will need once, on a scratch in-memory engine.

    Numba compiles a kernel on its first call (and caches it on disk after that);
    without this, the first closed 1-minute window or the first compacted chunk would
    stall the timed loop for seconds on a fresh checkout.
    """
    import tsengine

    scratch = tsengine.Engine()
    # Small rings, so these writes seal chunks and flush() below compresses them:
    # the codec kernels compile here, not in the compactor during the timed run
    # (where the compile holds the GIL and stalls the writer for seconds)
    scratch.create_table(
        TABLE, tags=["asset"], fields={FIELD: "float64"}, ring_capacity=4096
    )
    kpi.create_rollups(scratch)

    # three seconds across a minute boundary: closes 1 s and 1 min windows
    fleet = VibrationFleet(2, config.sample_rate, start_ns=58 * 10**9)
    for _ in range(30):
        scratch.write(TABLE, fleet.next_batch(config.sample_rate // 10))
    for rec in recordings:
        scratch.write(rec.table, rec.rows.slice(0, 64), tags=rec.tags)

    # compaction (codecs), then the reads the consumer makes through the server
    scratch.flush()
    scratch.read(TABLE, start=59 * 10**9, where={"asset": fleet.names[0]})
    scratch.latest(TABLE)
    scratch.read(kpi.KPI_1S)
    scratch.read(kpi.KPI_1M)
    scratch.close()


def _engine_kpis(engine) -> list[kpi.Kpi]:
    return kpi.kpis(engine.read(kpi.KPI_1S))


def run_demo(config: DemoConfig, view=None) -> dict:
    """Run the demo; returns the summary (also written to ``out/summary.json``).

    Parameters
    ----------
    config : DemoConfig
        What to run.
    view : PlainView or LiveView, optional
        Where progress goes (default: plain lines on stdout).
    """
    import tsengine

    view = view or PlainView()
    run_dir = Path(config.out or tempfile.mkdtemp(prefix="tsengine-demo-"))
    run_dir.mkdir(parents=True, exist_ok=True)
    data_dir = Path(config.data) if config.data else run_dir / "data"

    # 1-2. recordings, engine, tables, rollups
    view.note("loading the recordings to replay")
    recordings = _load_recordings(config)
    view.note(f"opening the engine in {data_dir}")
    engine = _open_engine(config, data_dir, recordings)
    replay = Replay(recordings, config.duration * REPLAY_SHARE)
    tables = [TABLE, *dict.fromkeys(r.table for r in recordings)]
    tags = {TABLE: ["asset"], **{r.table: r.tags for r in recordings}}
    server = consumer = None
    try:
        # 3. the Flight server, then the consumer process that reads from it
        server = tsengine.serve(engine, f"grpc://127.0.0.1:{config.port}")
        url = f"grpc://127.0.0.1:{server.port}"
        consumer = ConsumerProcess(url, config.consumer_interval)
        view.note(f"serving on {url}; consumer process {consumer.process.pid} started")

        # the feed's clock starts a little before the last whole minute, so that a
        # 1-minute KPI window closes during the run, and never runs ahead of now
        minute = 60 * 10**9
        lead = int(min(10.0, config.duration / 2) * 10**9) // 10**9 * 10**9
        start_ns = time.time_ns() // minute * minute - max(lead, 10**9)
        fleet = VibrationFleet(
            config.assets,
            config.sample_rate,
            start_ns,
            faulty=config.assets // 3,
            fault_ramp_s=max(config.duration, 1.0),
        )
        # warm-up: compile every kernel on a scratch engine, then touch the paths
        view.note("compiling kernels (cached after the first run)")
        _warm_up(config, recordings)
        warm = max(1, int(config.sample_rate * MIN_TICK_S))
        engine.write_many({TABLE: fleet.next_batch(warm)}, tags=tags)
        written = warm * config.assets

        # 4. the timed loop
        loop = _Loop(config, engine, fleet, replay, tags, consumer, view, url)
        timed_points, timed_s, lag_s = loop.run(tables)
        written += timed_points

        # 5. the rest of the replay, the consumer's report, flush, compression
        rest = replay.due(math.inf)
        if rest:
            engine.write_many(rest, tags=tags)
            written += sum(_points(t, tags[n]) for n, t in rest.items())
        report = consumer.stop()
        flush_start = time.perf_counter()
        engine.flush()
        flush_s = time.perf_counter() - flush_start
        stats = engine.stats()
        sums = _table_sums(stats, tables)
        per_table = stats["tables"]
        raw = sum(  # every stored row as int64 time plus 8 bytes per field
            per_table[t]["points"] * 8 * (1 + len(engine.definition(t).fields))
            for t in tables
        )

        # the drifting asset as the engine sees it, and its chart
        items = _engine_kpis(engine)
        ranked = kpi.drift(kpi.first_per_asset(items), kpi.latest_per_asset(items))
        drifting = ranked[0] if ranked else None
        chart = None
        if drifting:
            from tsengine.demo.chart import kpi_chart

            chart = kpi_chart(
                items,
                drifting[0],
                config.chart or run_dir / "kpis.png",
                title=f"{drifting[0]}: 1-second vibration KPIs from rollup "
                f"{kpi.KPI_1S} (growing bearing fault)",
            )

        summary = {
            "duration_s": round(timed_s, 3),
            "sustained_points_per_s": timed_points / timed_s if timed_s else 0.0,
            "offered_points_per_s": None
            if config.flat_out
            else fleet.points_per_second,
            "lag_s_at_end": round(lag_s, 3),
            "points_written": written,
            "rows_stored": sums["points"],
            "tables": {name: per_table[name]["points"] for name in tables},
            "series": sums["series"],
            "assets": config.assets,
            "sample_rate_hz": config.sample_rate,
            "memory_compression_ratio": sums["raw_bytes"] / sums["sealed_bytes"]
            if sums["sealed_bytes"]
            else None,
            "memory_bytes": sums["memory_bytes"],
            "raw_bytes": raw,
            "segment_bytes": sums["segment_bytes"],
            "wal_bytes": sums["wal_bytes"],
            "disk_compression_ratio": raw / sums["segment_bytes"]
            if sums["segment_bytes"]
            else None,
            "flush_s": round(flush_s, 3),
            "rollups": list(kpi.ROLLUPS),
            "kpi_windows_1s": len(items),
            "faulty_asset": fleet.faulty_name,
            "drifting_asset": drifting[0] if drifting else None,
            "drifting_rms_ratio": drifting[1] if drifting else None,
            "consumer": report,
            "replayed": {
                r.table: {"source": r.source, "rows": r.rows.num_rows}
                for r in recordings
            },
            "chart": os.fspath(chart) if chart else None,
            "data_dir": os.fspath(data_dir),
            "url": url,
        }
        (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        summary["summary_file"] = os.fspath(run_dir / "summary.json")
        return summary
    finally:
        if consumer is not None and consumer.process.poll() is None:
            consumer.stop(timeout=5)
        if server is not None:
            server.shutdown(flush=False)
        engine.close()


class _Loop:
    """The timed write loop and the live view's snapshots."""

    def __init__(self, config, engine, fleet, replay, tags, consumer, view, url):
        self.config = config
        self.engine = engine
        self.fleet = fleet
        self.replay = replay
        self.tags = tags
        self.consumer = consumer
        self.view = view
        self.snapshot = Snapshot(duration=config.duration, url=url)
        self.recent: deque = deque()
        self.first_kpis: dict[str, kpi.Kpi] = {}

    def run(self, tables: list[str]) -> tuple[int, float, float]:
        """Write until the duration is over; returns (points, seconds, lag s)."""
        config, fleet = self.config, self.fleet
        rate = config.sample_rate
        base = fleet.samples
        points = 0
        start = time.perf_counter()
        next_view = start
        while True:
            now = time.perf_counter()
            elapsed = now - start
            if elapsed >= config.duration:
                break

            # how many samples per asset this tick: paced by the clock, or flat out
            if config.flat_out:
                n = int(rate * FLAT_OUT_TICK_S)
            else:
                due = int(elapsed * rate) - (fleet.samples - base)
                if due < rate * MIN_TICK_S:
                    time.sleep(min(MIN_TICK_S, config.duration - elapsed))
                    continue
                n = min(due, int(rate * MAX_TICK_S))

            # one atomic write per tick: vibration plus the replay slices due
            tick = {TABLE: fleet.next_batch(n)}
            tick.update(self.replay.due(elapsed))
            self.engine.write_many(tick, tags=self.tags)
            points += sum(_points(t, self.tags[name]) for name, t in tick.items())

            if now >= next_view:
                next_view = now + VIEW_EVERY_S
                self._show(tables, elapsed, points)
        elapsed = time.perf_counter() - start
        lag = 0.0 if config.flat_out else elapsed - (fleet.samples - base) / rate
        self._show(tables, elapsed, points)
        return points, elapsed, max(lag, 0.0)

    def _show(self, tables: list[str], elapsed: float, points: int) -> None:
        s = self.snapshot
        now = time.perf_counter()
        self.recent.append((now, points))
        while len(self.recent) > 2 and now - self.recent[0][0] > 1.5:
            self.recent.popleft()
        t0, p0 = self.recent[0]
        s.elapsed = elapsed
        s.points = points
        s.rate = (points - p0) / (now - t0) if now > t0 else 0.0
        s.mean_rate = points / elapsed if elapsed else 0.0
        s.offered_rate = None if self.config.flat_out else self.fleet.points_per_second
        sums = _table_sums(self.engine.stats(), tables)
        s.rows_stored = sums["points"]
        s.sealed_raw_bytes, s.sealed_bytes = sums["raw_bytes"], sums["sealed_bytes"]
        s.unencoded_bytes = sums["unencoded_bytes"]
        s.disk_bytes = sums["segment_bytes"] + sums["wal_bytes"]
        s.replay = self.replay.progress()
        newest = kpi.latest_per_asset(kpi.kpis(self.engine.latest(kpi.KPI_1S)))
        for asset, k in newest.items():
            self.first_kpis.setdefault(asset, k)
        s.kpis = newest
        ranked = kpi.drift(self.first_kpis, newest)
        s.drifting = ranked[0] if ranked and ranked[0][1] > 1.2 else None
        s.consumer = self.consumer.report
        self.view.update(s)


__all__ = ["DemoConfig", "run_demo"]

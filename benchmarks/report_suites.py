"""The suites of ``tsengine bench``: what each measures, its baseline and its target.

Each suite module of this folder keeps its own pytest-benchmark cases (``pytest
benchmarks/``) and a plain function returning figures; :data:`SUITES` maps a suite to
an adapter that calls that function (small sizes with ``quick``) and turns its result
into :class:`Figure` rows: the tsengine value, the baseline measured in the same run,
the target from the issue, and which way is better. :data:`PENDING` lists the modules
that have no figure function yet. The runner is :mod:`report`, which imports the suite
modules by plain name: this folder must be on ``sys.path``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Figure:
    """One measured figure next to its baseline.

    ``targets`` are ``(op, bound, on)`` with ``op`` ``">="`` or ``"<="`` and ``on``
    ``"value"`` (the figure itself) or ``"advantage"`` (see :attr:`advantage`).
    """

    suite: str
    benchmark: str
    unit: str
    value: float
    baseline_name: str
    baseline: float | None
    better: str = "higher"  # or "lower"
    target: str = ""
    targets: list = field(default_factory=list)

    @property
    def advantage(self) -> float | None:
        """How many times better than the baseline (> 1: tsengine is better)."""
        if not self.baseline or not self.value:
            return None
        if self.better == "higher":
            return self.value / self.baseline
        return self.baseline / self.value

    @property
    def met(self) -> bool | None:
        """Whether every target holds; None without a target."""
        if not self.targets:
            return None
        for op, bound, on in self.targets:
            x = self.value if on == "value" else self.advantage
            if x is None or not (x >= bound if op == ">=" else x <= bound):
                return False
        return True


def parse_target(text: str) -> list:
    """``">= 30 M points/s"`` or ``">= 0.5x baseline"`` as :class:`Figure` targets."""
    m = re.match(r"\s*(>=|<=)\s*([\d.]+)\s*(x baseline)?", text)
    if not m:
        return []
    return [(m.group(1), float(m.group(2)), "advantage" if m.group(3) else "value")]


# -- suites -------------------------------------------------------------------------


def _from_rows(suite: str, rows: list[dict]) -> list[Figure]:
    """Figures from dicts with ``benchmark``, ``unit``, ``tsengine``,
    ``baseline_name``, ``baseline`` and ``target`` (the core and window suites)."""
    out = []
    for r in rows:
        lower = r["target"].lstrip().startswith("<=")
        out.append(
            Figure(
                suite,
                r["benchmark"],
                r["unit"],
                r["tsengine"],
                r["baseline_name"],
                r["baseline"],
                better="lower" if lower else "higher",
                target=r["target"],
                targets=parse_target(r["target"]),
            )
        )
    return out


def _core(quick: bool) -> list[Figure]:
    import bench_core

    return _from_rows("core", bench_core.core_figures(quick))


def _window(quick: bool) -> list[Figure]:
    import bench_window

    return _from_rows("window", bench_window.window_figures(quick, 3 if quick else 5))


def _rollup(quick: bool) -> list[Figure]:
    import bench_rollup

    sizes = dict(total=500_000, repeat=2) if quick else {}
    f = bench_rollup.figures(**sizes)
    return [
        Figure(
            "rollup",
            f"ingest with a {label} rollup, {f['points']:,} points",
            "M points/s",
            f[f"rollup_{key}_points_per_s"] / 1e6,
            "the same ingest without rollups",
            f["baseline_points_per_s"] / 1e6,
            target=">= 0.8x baseline",
            targets=[(">=", 0.8, "advantage")],
        )
        for key, label in (("1s", "1-second"), ("1m", "1-minute"))
    ]


def _bare_latency_ms(calls: int) -> float:
    """Median ms of a DoGet of a one-row table from a bare pyarrow Flight server."""
    import statistics

    import pyarrow as pa
    import pyarrow.flight as flight
    from bench_flight import BareServer

    server = BareServer("grpc://127.0.0.1:0", pa.table({"time": [1], "v": [0.5]}))
    client = flight.connect(f"grpc://127.0.0.1:{server.port}")
    try:
        ticket = flight.Ticket(b"{}")
        for _ in range(100):
            client.do_get(ticket).read_all()
        times = []
        for _ in range(calls):
            start = time.perf_counter()
            client.do_get(ticket).read_all()
            times.append(time.perf_counter() - start)
    finally:
        client.close()
        server.shutdown()
    return 1e3 * statistics.median(times)


def _flight(quick: bool) -> list[Figure]:
    import bench_flight

    sizes = dict(get_points=2_000_000, put_rows=500_000, rounds=3, latest_calls=500)
    f = bench_flight.flight_figures(**sizes) if quick else bench_flight.flight_figures()
    bare = "bare pyarrow Flight server"
    ratio = [(">=", 0.8, "advantage")]
    return [
        Figure(
            "flight",
            f"DoPut ingest, {f['put_rows']:,} rows",
            "M rows/s",
            f["put_rows_per_s"] / 1e6,
            f"{bare} (receives only)",
            f["put_bare_rows_per_s"] / 1e6,
            target=">= 0.8x baseline",
            targets=ratio,
        ),
        Figure(
            "flight",
            f"DoGet read, {f['get_points']:,} points",
            "M rows/s",
            f["get_rows_per_s"] / 1e6,
            f"{bare} (table in memory)",
            f["get_bare_rows_per_s"] / 1e6,
            target=">= 0.8x baseline",
            targets=ratio,
        ),
        Figure(
            "flight",
            "latest() of one series over Flight, median",
            "ms",
            f["latest_median_ms"],
            f"{bare}, DoGet of a 1-row table",
            _bare_latency_ms(f["latest_calls"]),
            better="lower",
            target="<= 1 ms",
            targets=[("<=", 1.0, "value")],
        ),
    ]


def _ingest(quick: bool) -> list[Figure]:
    import bench_lineprotocol

    sizes = dict(lines=300_000, python_lines=30_000) if quick else {}
    f = bench_lineprotocol.figures(**sizes)
    return [
        Figure(
            "ingest",
            "line protocol parse, plant lines",
            "M lines/s",
            f["lp_lines_per_s"] / 1e6,
            "straightforward pure-Python parser",
            f["lp_python_lines_per_s"] / 1e6,
            target=">= 3 M lines/s and >= 20x baseline",
            targets=[(">=", 3.0, "value"), (">=", 20.0, "advantage")],
        ),
        Figure(
            "ingest",
            "CSV ingest of the SKAB files",
            "M rows/s",
            f["csv_rows_per_s"] / 1e6,
            "pyarrow.csv.read_csv, same files",
            f["csv_arrow_rows_per_s"] / 1e6,
            target=">= 0.8x baseline",
            targets=[(">=", 0.8, "advantage")],
        ),
    ]


def _durability(quick: bool) -> list[Figure]:
    import bench_durability

    sizes = dict(points=500_000, rounds=2) if quick else {}
    f = bench_durability.durability_figures(**sizes)
    memory = f["memory"]["points_per_s"] / 1e6
    out = []
    for mode in ("interval", "sync", "none"):
        target = ">= 0.7x baseline" if mode == "interval" else ""
        out.append(
            Figure(
                "durability",
                f'durable write, durability="{mode}"',
                "M points/s",
                f[mode]["points_per_s"] / 1e6,
                "in-memory engine, same batches",
                memory,
                target=target,
                targets=parse_target(target),
            )
        )
    out.append(
        Figure(
            "durability",
            'bytes on disk per point, durability="interval"',
            "bits/point",
            f["disk_bits_per_point"],
            "raw int64 time + float64 value",
            128.0,
            better="lower",
        )
    )
    return out


def _compression(quick: bool) -> tuple[list[Figure], str]:
    import compression_table as ct

    rows = ct.compression_rows(quick=quick)
    out = []

    # bits per value of each dataset family next to Parquet
    for group in ("nab", "skab", "cmapss", "all sensors", "floatbench"):
        t = ct.totals(rows, group)
        target = ">= 1.5x baseline" if group == "all sensors" else ""
        out.append(
            Figure(
                "compression",
                f"bits per value, {group}",
                "bits/value",
                t["auto"],
                "Parquet (zstd, dictionary)",
                t["parquet_zstd"],
                better="lower",
                target=target,
                targets=parse_target(target),
            )
        )

    # a regular clock
    clocks = ct.time_rows()
    regular = next(r for r in clocks if r["series"] == "1 Hz, 1000000 points")
    out.append(
        Figure(
            "compression",
            "regular 1 Hz timestamps, 1 M points",
            "bits/point",
            regular["auto"],
            "zstd level 3",
            regular["zstd3"],
            better="lower",
            target="<= 0.1 bits/point",
            targets=[("<=", 0.1, "value")],
        )
    )

    # codec speed, harmonic mean over the elf series
    speed = ct.speed_rows()
    for what, bound in (("decode", 1000), ("encode", 300)):
        out.append(
            Figure(
                "compression",
                f"float {what}, elf series, one core",
                "MB/s",
                len(speed) / sum(1 / r[f"auto_{what}"] for r in speed),
                f"zstd level 3 {what}",
                len(speed) / sum(1 / r[f"zstd3_{what}"] for r in speed),
                target=f">= {bound} MB/s",
                targets=[(">=", bound, "value")],
            )
        )
    detail = "\n\n".join(
        [
            "Bits per value, every method:\n\n" + ct.sensor_table(rows),
            "floatbench beside the ALP paper's published figures (the copies here "
            "are the first ~100k values of each dataset: compare ratios):\n\n"
            + ct.floatbench_table(rows),
            "Timestamps, bits per point:\n\n" + ct.time_table(clocks),
            "Throughput, one core, MB/s of decoded float64:\n\n"
            + ct.speed_table(speed),
        ]
    )
    return out, detail


#: Suite name -> (module file, adapter, what it measures), in report order.
SUITES: dict[str, tuple[str, Callable, str]] = {
    "core": ("bench_core.py", _core, "engine writes, reads and memory"),
    "ingest": ("bench_lineprotocol.py", _ingest, "line protocol and CSV parsing"),
    "durability": ("bench_durability.py", _durability, "durable writes"),
    "window": ("bench_window.py", _window, "windowed aggregation"),
    "rollup": ("bench_rollup.py", _rollup, "rollup maintenance during ingest"),
    "compression": ("compression_table.py", _compression, "codec sizes and speed"),
    "flight": ("bench_flight.py", _flight, "Arrow Flight endpoint"),
}
#: Benchmark modules without a figure function in this report (yet), and why.
PENDING = {
    "codecs": (
        "bench_codecs.py",
        "pytest-benchmark cases only; codec speed is in the compression suite",
    ),
}

"""The demo's KPIs: which rollups the engine maintains, and how to read them.

Two continuous rollups per asset, the second fed by the first (a cascade, as
hierarchical continuous aggregates do it: the minute view costs 60 rows a minute per
asset instead of every raw sample):

- ``vibration_1s``: 1-second windows of the raw ``accel`` with count, mean, std, min
  and max;
- ``vibration_1m``: 1-minute windows of ``vibration_1s``: samples
  (``accel_count_sum``), mean (``accel_mean_mean``, exact when the seconds are full),
  mean and largest 1-second standard deviation (``accel_std_mean``,
  ``accel_std_max``), and the extremes (``accel_min_min``, ``accel_max_max``).

From one 1-second window's count, mean and (sample) standard deviation the condition
KPIs follow exactly: RMS = sqrt(mean^2 + std^2 * (n - 1) / n) and peak =
max(|min|, |max|); crest factor = peak / RMS. A bearing fault raises RMS and peak;
:func:`drift` ranks the assets by how far their latest RMS has risen above their first.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import pyarrow as pa

from tsengine.demo.fleet import FIELD, TABLE

KPI_1S = "vibration_1s"
KPI_1M = "vibration_1m"
AGGS = ["count", "mean", "std", "min", "max"]
#: Aggregates of the 1-minute rollup over the columns of the 1-second one.
MINUTE_AGGS = {
    f"{FIELD}_count": ["sum"],
    f"{FIELD}_mean": ["mean"],
    f"{FIELD}_std": ["mean", "max"],
    f"{FIELD}_min": ["min"],
    f"{FIELD}_max": ["max"],
}
#: Rollup name -> (source, window, aggregates, lateness), in creation order. Raw
#: points may arrive up to 200 ms late; closed seconds arrive in order.
ROLLUPS = {
    KPI_1S: (TABLE, "1s", {FIELD: AGGS}, "200ms"),
    KPI_1M: (KPI_1S, "1m", MINUTE_AGGS, "0s"),
}


def create_rollups(engine) -> list[str]:
    """Create the demo's rollups on ``engine`` (idempotent); returns their names."""
    existing = set(_rollup_names(engine))
    for name, (source, every, aggs, lateness) in ROLLUPS.items():
        if name not in existing:
            engine.create_rollup(
                name,
                source=source,
                every=every,
                aggs=aggs,
                by=["asset"],
                lateness=lateness,
            )
    return list(ROLLUPS)


def _rollup_names(engine) -> list[str]:
    rollups = getattr(engine, "rollups", None)
    if callable(rollups):
        return list(rollups())
    return []


@dataclass(frozen=True)
class Kpi:
    """Condition KPIs of one asset over one window (g, window start in ns)."""

    asset: str
    start: int
    count: int
    mean: float
    rms: float
    peak: float

    @property
    def crest(self) -> float:
        """Peak over RMS (dimensionless); NaN for a zero RMS."""
        return self.peak / self.rms if self.rms else math.nan


def kpis(rows: pa.Table) -> list[Kpi]:
    """KPIs of every row of a rollup table (columns ``time``, ``asset`` and
    ``accel_{count,mean,std,min,max}``)."""
    columns = rows.to_pydict()
    times = rows.column("time").cast(pa.int64()).to_pylist()
    out = []
    for i, asset in enumerate(columns["asset"]):
        n = columns[f"{FIELD}_count"][i] or 0
        mean = columns[f"{FIELD}_mean"][i]
        std = columns[f"{FIELD}_std"][i]
        lo, hi = columns[f"{FIELD}_min"][i], columns[f"{FIELD}_max"][i]
        if not n or mean is None or lo is None or hi is None:
            continue
        variance = 0.0 if std is None or n < 2 else std * std * (n - 1) / n
        rms = math.sqrt(mean * mean + variance)
        out.append(Kpi(asset, times[i], int(n), mean, rms, max(abs(lo), abs(hi))))
    return out


def latest_per_asset(items: Iterable[Kpi]) -> dict[str, Kpi]:
    """The KPI of the newest window of each asset."""
    out: dict[str, Kpi] = {}
    for k in items:
        if k.asset not in out or k.start > out[k.asset].start:
            out[k.asset] = k
    return out


def first_per_asset(items: Iterable[Kpi]) -> dict[str, Kpi]:
    """The KPI of the oldest window of each asset (a healthy baseline)."""
    out: dict[str, Kpi] = {}
    for k in items:
        if k.asset not in out or k.start < out[k.asset].start:
            out[k.asset] = k
    return out


def drift(baseline: dict[str, Kpi], latest: dict[str, Kpi]) -> list[tuple[str, float]]:
    """Assets ranked by latest RMS over baseline RMS, highest first."""
    ranked = [
        (asset, k.rms / baseline[asset].rms)
        for asset, k in latest.items()
        if asset in baseline and baseline[asset].rms > 0
    ]
    return sorted(ranked, key=lambda item: item[1], reverse=True)


__all__ = [
    "AGGS",
    "KPI_1M",
    "KPI_1S",
    "Kpi",
    "ROLLUPS",
    "create_rollups",
    "drift",
    "first_per_asset",
    "kpis",
    "latest_per_asset",
]

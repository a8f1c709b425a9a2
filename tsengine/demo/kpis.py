"""The demo's KPIs: which rollups the engine maintains, and how to read them.

Two continuous rollups of the vibration table, per asset:

- ``vibration_1s``: 1-second windows of ``accel`` with count, mean, std, min and max;
- ``vibration_1m``: 1-minute windows of the same.

From one window's count, mean and (sample) standard deviation the condition KPIs
follow exactly: RMS = sqrt(mean^2 + std^2 * (n - 1) / n) and peak = max(|min|, |max|);
crest factor = peak / RMS. A bearing fault raises RMS and peak; :func:`drift` ranks the
assets by how far their latest RMS has risen above their first one.
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
#: Rollup name -> window width, in the order the demo creates them.
ROLLUPS = {KPI_1S: "1s", KPI_1M: "1m"}
#: How long a rollup window stays open for late points after the watermark.
LATENESS = "200ms"


def create_rollups(engine, lateness: str = LATENESS) -> list[str]:
    """Create the demo's rollups on ``engine`` (idempotent); returns their names."""
    existing = set(_rollup_names(engine))
    for name, every in ROLLUPS.items():
        if name in existing:
            continue
        engine.create_rollup(
            name,
            source=TABLE,
            every=every,
            aggs={FIELD: AGGS},
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

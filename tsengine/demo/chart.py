"""The demo's PNG chart: one asset's 1-second KPIs against the rest of the fleet.

Drawn with matplotlib's Agg canvas directly (no pyplot, no global backend switch), so
it works without a display and leaves the caller's matplotlib state alone.
"""

from __future__ import annotations

import os
from collections import defaultdict

import numpy as np

from tsengine.demo.kpis import Kpi


def kpi_chart(
    items: list[Kpi], asset: str, path: str | os.PathLike, title: str = ""
) -> str:
    """Write a PNG of ``asset``'s RMS, peak and crest factor per 1-second window,
    with the fleet's RMS range behind it; returns the path written.

    Raises
    ------
    ValueError
        No KPI window of ``asset`` in ``items``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # one row per window: this asset, and the others' RMS per window start
    mine = sorted((k for k in items if k.asset == asset), key=lambda k: k.start)
    if not mine:
        raise ValueError(f"no KPI windows of asset {asset!r} to chart")
    t0 = mine[0].start
    others: dict[int, list[float]] = defaultdict(list)
    for k in items:
        if k.asset != asset:
            others[k.start].append(k.rms)
    x = np.array([(k.start - t0) / 1e9 for k in mine])

    figure = Figure(figsize=(9, 6), dpi=110)
    FigureCanvasAgg(figure)
    top, bottom = figure.subplots(2, 1, sharex=True)

    # RMS: this asset against the band of the other assets
    if others:
        starts = sorted(others)
        ox = np.array([(s - t0) / 1e9 for s in starts])
        lo = np.array([min(others[s]) for s in starts])
        hi = np.array([max(others[s]) for s in starts])
        med = np.array([float(np.median(others[s])) for s in starts])
        top.fill_between(ox, lo, hi, color="0.85", label="other assets (min-max)")
        top.plot(ox, med, color="0.5", lw=1, label="other assets (median)")
    top.plot(x, [k.rms for k in mine], color="tab:red", lw=1.8, label=f"{asset} RMS")
    top.set_ylabel("RMS acceleration (g)")
    top.legend(loc="upper left", fontsize=8)
    top.grid(alpha=0.3)

    # peak and crest factor of this asset
    bottom.plot(x, [k.peak for k in mine], color="tab:orange", label=f"{asset} peak")
    bottom.set_ylabel("peak (g)")
    bottom.set_xlabel("seconds since the first KPI window")
    bottom.grid(alpha=0.3)
    crest = bottom.twinx()
    crest.plot(x, [k.crest for k in mine], color="tab:blue", lw=1, ls="--")
    crest.set_ylabel("crest factor (peak / RMS)", color="tab:blue")
    bottom.legend(loc="upper left", fontsize=8)

    figure.suptitle(title or f"1-second vibration KPIs of {asset} (rollup)")
    figure.tight_layout()
    figure.savefig(os.fspath(path), format="png")
    return os.fspath(path)


__all__ = ["kpi_chart"]

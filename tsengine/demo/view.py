"""The demo's live terminal view, and its plain-text fallback.

The run loop fills a :class:`Snapshot` about twice a second; a view renders it.
:class:`LiveView` draws a rich panel that redraws in place (ingest rate, points stored,
compression, replay progress, per-asset KPIs with the drifting asset highlighted, what
the consumer process received). :class:`PlainView` prints one line per
``every`` seconds, for logs, pipes and CI, where cursor movement would be noise.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

from tsengine.demo.kpis import Kpi


@dataclass
class Snapshot:
    """Everything the view shows, gathered by the run loop."""

    elapsed: float = 0.0
    duration: float = 0.0
    points: int = 0  # field values written
    rate: float = 0.0  # points/s over the last second or so
    mean_rate: float = 0.0  # points/s since the start
    offered_rate: float | None = None  # points/s the feed offers (None: flat out)
    lag_s: float = 0.0  # seconds of signal the writer is behind the feed
    rows_stored: int = 0  # rows in the engine (stats)
    sealed_raw_bytes: int = 0  # sealed tier, uncompressed (stats "raw_bytes")
    sealed_bytes: int = 0  # sealed tier as stored in memory (stats "sealed_bytes")
    unencoded_bytes: int = 0  # of which still plain, queued for the compactor
    disk_bytes: int = 0  # segments + log on disk
    replay: list = field(default_factory=list)  # (table, source, sent, rows)
    kpis: dict[str, Kpi] = field(default_factory=dict)  # asset -> newest 1 s KPIs
    drifting: tuple[str, float] | None = None  # (asset, RMS / first RMS)
    consumer: dict = field(default_factory=dict)
    url: str = ""

    @property
    def ratio(self) -> float | None:
        """Compression of the sealed tier: raw bytes over stored bytes."""
        return self.sealed_raw_bytes / self.sealed_bytes if self.sealed_bytes else None


def _mpts(rate: float) -> str:
    return f"{rate / 1e6:.2f} M/s"


def _consumer_line(c: dict) -> str:
    if not c:
        return "starting"
    if "fatal" in c:
        return "failed: " + c["fatal"].strip().splitlines()[-1]
    rows = c.get("rows", {})
    lat = c.get("latency_ms", {})
    text = (
        f"{c.get('polls', 0)} polls; KPI windows {c.get('kpi_windows', 0):,}, "
        f"latest rows {rows.get('latest', 0):,}, raw rows {rows.get('raw', 0):,}; "
        f"latency kpi {lat.get('kpi_1s', 0):.1f} ms, "
        f"latest {lat.get('latest', 0):.1f} ms, raw {lat.get('raw', 0):.1f} ms"
    )
    if c.get("flagged"):
        text += f"; flags {c['flagged']} (RMS x{c.get('flagged_ratio', 0):.2f})"
    if c.get("errors"):
        text += f"; {len(c['errors'])} error(s): {c['errors'][-1]}"
    return text


class PlainView:
    """One status line every ``every`` seconds on ``stream``."""

    def __init__(self, stream=None, every: float = 2.0) -> None:
        self.stream = stream or sys.stdout
        self.every = every
        self._last = -float("inf")

    def __enter__(self) -> PlainView:
        return self

    def __exit__(self, *exc) -> None:
        pass

    def note(self, text: str) -> None:
        """A one-off line: what the demo is doing before the loop starts."""
        print(f"tsengine demo: {text}", file=self.stream, flush=True)

    def update(self, s: Snapshot) -> None:
        now = time.monotonic()
        if now - self._last < self.every:
            return
        self._last = now
        ratio = f"{s.ratio:.1f}x" if s.ratio else "-"
        drifting = (
            f"{s.drifting[0]} RMS x{s.drifting[1]:.2f}" if s.drifting else "none yet"
        )
        replay = ", ".join(f"{t} {sent}/{n}" for t, _, sent, n in s.replay)
        print(
            f"[{s.elapsed:5.1f}s] ingest {_mpts(s.rate)} (mean {_mpts(s.mean_rate)}), "
            f"{s.points:,} points, {s.rows_stored:,} rows stored, compression {ratio}; "
            f"replay {replay}; drifting {drifting}; consumer: "
            f"{_consumer_line(s.consumer)}",
            file=self.stream,
            flush=True,
        )


class LiveView:
    """A rich panel redrawn in place; use as a context manager."""

    def __init__(self, max_assets: int = 12) -> None:
        from rich.console import Console
        from rich.live import Live

        self.max_assets = max_assets
        self._console = Console()
        self._live = Live(console=self._console, refresh_per_second=4, transient=False)

    def __enter__(self) -> LiveView:
        self._live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._live.__exit__(*exc)

    def note(self, text: str) -> None:
        """Show what the demo is doing before the first snapshot."""
        from rich.text import Text

        self._live.update(Text(f"tsengine demo: {text}"), refresh=True)

    def update(self, s: Snapshot) -> None:
        self._live.update(self.render(s))

    def render(self, s: Snapshot):
        """The panel for one snapshot (a rich renderable)."""
        from rich.console import Group
        from rich.panel import Panel
        from rich.table import Table

        # headline figures
        head = Table.grid(padding=(0, 2))
        head.add_column(style="bold")
        head.add_column()
        offered = _mpts(s.offered_rate) if s.offered_rate else "flat out"
        head.add_row(
            "ingest",
            f"{_mpts(s.rate)} now, {_mpts(s.mean_rate)} mean (feed offers {offered}"
            + (f", {s.lag_s:.2f} s behind)" if s.lag_s > 0.05 else ")"),
        )
        head.add_row("stored", f"{s.rows_stored:,} rows, {s.points:,} points written")
        ratio = f"{s.ratio:.1f}x" if s.ratio else "-"
        head.add_row(
            "compression",
            f"{ratio} in memory (sealed: {s.sealed_raw_bytes / 1e6:,.0f} MB raw -> "
            f"{s.sealed_bytes / 1e6:,.0f} MB, of which "
            f"{s.unencoded_bytes / 1e6:,.0f} MB not yet encoded); "
            f"{s.disk_bytes / 1e6:,.0f} MB on disk incl. log",
        )
        for table, source, sent, n in s.replay:
            head.add_row("replay", f"{table} <- {source}: {sent:,}/{n:,} rows")
        head.add_row("flight", s.url)
        head.add_row("consumer", _consumer_line(s.consumer))

        # per-asset KPIs, the drifting asset first and in red
        kpi = Table(title="1-second KPIs per asset (rollup vibration_1s)", expand=False)
        for name in ("asset", "window", "n", "RMS g", "peak g", "crest"):
            kpi.add_column(name, justify="right" if name != "asset" else "left")
        drifting = s.drifting[0] if s.drifting else None
        order = sorted(s.kpis, key=lambda a: (a != drifting, a))
        for asset in order[: self.max_assets]:
            k = s.kpis[asset]
            style = "bold red" if asset == drifting else None
            clock = time.strftime("%H:%M:%S", time.gmtime(k.start // 10**9))
            kpi.add_row(
                asset,
                clock,
                f"{k.count:,}",
                f"{k.rms:.3f}",
                f"{k.peak:.3f}",
                f"{k.crest:.2f}",
                style=style,
            )
        if len(order) > self.max_assets:
            kpi.caption = f"... and {len(order) - self.max_assets} more assets"
        title = f"tsengine demo  {s.elapsed:4.1f} / {s.duration:.0f} s"
        if s.drifting:
            title += f"   drifting: {s.drifting[0]} (RMS x{s.drifting[1]:.2f})"
        return Panel(Group(head, kpi), title=title)


def make_view(plain: bool | None = None):
    """A :class:`LiveView` on a terminal, else a :class:`PlainView`."""
    if plain is None:
        plain = not sys.stdout.isatty()
    return PlainView() if plain else LiveView()


__all__ = ["LiveView", "PlainView", "Snapshot", "make_view"]

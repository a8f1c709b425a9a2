"""The demo's closing summary as text lines, the same on a terminal and in logs."""

from __future__ import annotations


def _m(value: float | None) -> str:
    return "-" if value is None else f"{value / 1e6:.2f} M points/s"


def summary_lines(s: dict) -> list[str]:
    """Human-readable lines of the summary dict returned by
    :func:`tsengine.demo.run.run_demo`."""
    lines = ["", "tsengine demo: summary"]

    # ingest
    offered = s.get("offered_points_per_s")
    lines.append(
        f"  sustained ingest   {_m(s['sustained_points_per_s'])} over "
        f"{s['duration_s']:.1f} s with {len(s['rollups'])} rollups, the Flight server "
        f"and the consumer running"
        + (f" (feed offered {_m(offered)})" if offered else " (flat out)")
    )
    if offered and s.get("lag_s_at_end", 0) > 0.25:
        lines.append(
            f"  note               the writer ended {s['lag_s_at_end']:.2f} s of "
            "signal behind the feed: this machine did not keep up with the offered rate"
        )
    lines.append(
        f"  stored             {s['rows_stored']:,} rows in {s['series']:,} series "
        f"({s['points_written']:,} points = field values written)"
    )
    width = max(map(len, s["tables"]), default=0)
    for table, rows in s["tables"].items():
        lines.append(f"    {table:<{width}}  {rows:>13,} rows")

    # compression
    ratio = s.get("memory_compression_ratio")
    lines.append(
        "  compression        "
        + (f"{ratio:.1f}x in memory for sealed chunks" if ratio else "-")
        + f"; {s['segment_bytes'] / 1e6:,.1f} MB of segments on disk for "
        f"{s['raw_bytes'] / 1e6:,.1f} MB raw (8 bytes per time and value)"
    )

    # KPIs and the drifting asset
    if s.get("drifting_asset"):
        lines.append(
            f"  drifting asset     {s['drifting_asset']} (1 s RMS x"
            f"{s['drifting_rms_ratio']:.2f} since the start; the feed's faulty "
            f"asset is {s['faulty_asset']}), from {s['kpi_windows_1s']:,} KPI windows"
        )

    # what the consumer process received over Flight
    c = s.get("consumer") or {}
    if c.get("fatal"):
        lines.append("  consumer           FAILED: " + c["fatal"].strip()[-300:])
    else:
        rows, calls, lat = (
            c.get("rows", {}),
            c.get("calls", {}),
            c.get("latency_ms", {}),
        )
        lines.append(
            f"  consumer (Flight)  {c.get('polls', 0)} polls, "
            f"{c.get('bytes', 0) / 1e6:.1f} MB: {rows.get('kpi_1s', 0):,} 1 s KPI rows "
            f"in {calls.get('kpi_1s', 0)} calls, {rows.get('kpi_1m', 0):,} 1 min KPI "
            f"rows, {rows.get('latest', 0):,} latest rows, {rows.get('raw', 0):,} raw "
            f"points of {c.get('watched') or '-'}"
        )
        if lat:
            lines.append(
                "  consumer latency   "
                + ", ".join(f"{k} {v:.1f} ms" for k, v in sorted(lat.items()))
                + " (median)"
            )
        if c.get("flagged"):
            lines.append(
                f"  consumer flagged   {c['flagged']} (RMS x{c['flagged_ratio']:.2f})"
            )
        for error in c.get("errors", []):
            lines.append(f"  consumer error     {error}")

    # where things are
    if s.get("chart"):
        lines.append(f"  chart              {s['chart']}")
    lines.append(f"  data               {s['data_dir']}")
    lines.append(f"  summary            {s.get('summary_file', '-')}")
    lines.append(
        f"  query it           tsengine query latest {s['rollups'][0]} --data "
        f"{s['data_dir']}"
    )
    return lines


__all__ = ["summary_lines"]

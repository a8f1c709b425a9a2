"""Run the benchmark suites and write a report: Markdown, JSON figures, PNG charts.

Every figure is measured next to its baseline in the same run (numpy copy, pandas,
pyarrow CSV, zstd, Parquet, a bare pyarrow Flight server, the in-memory engine) and
reported with the ratio, the target it is held to, and the machine it ran on. The
suites live in the repository's benchmarks/ folder (run this from a clone); each also
runs under plain `pytest benchmarks/`.

Suites: core, ingest, durability, window, rollup, compression, flight. --quick uses
smaller sizes (about 2 minutes); the default is the full run.

examples:
  tsengine bench --quick
  tsengine bench --out bench-report
  tsengine bench --only core,flight
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HELP = "run the benchmark suites; write a Markdown report and PNG charts"
_REPO = Path(__file__).resolve().parent.parent.parent


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``tsengine bench``."""
    parser.add_argument(
        "--quick", action="store_true", help="smaller sizes: about 2 minutes"
    )
    parser.add_argument(
        "--out",
        metavar="DIR",
        default="tsengine-bench",
        help="report directory (default: ./tsengine-bench)",
    )
    parser.add_argument(
        "--only", metavar="SUITE,SUITE", help="run only these suites (default: all)"
    )
    parser.add_argument(
        "--benchmarks",
        metavar="DIR",
        help="the benchmarks/ folder (default: the one beside this tsengine package, "
        "else ./benchmarks)",
    )


def load_runner(folder: str | None = None):
    """Import ``benchmarks/report.py`` from ``folder`` (see ``--benchmarks``)."""
    candidates = (
        [Path(folder)] if folder else [_REPO / "benchmarks", Path("benchmarks")]
    )
    for path in candidates:
        if (path / "report.py").is_file():
            sys.path.insert(0, str(path.resolve()))
            return importlib.import_module("report")
    raise FileNotFoundError(
        f"no benchmarks/report.py in {[str(c) for c in candidates]!r}: tsengine bench "
        "runs the suites of a source checkout; run it from a clone of the repository "
        "or pass --benchmarks DIR"
    )


# -- the machine ----------------------------------------------------------------------


def _version(name: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        module = sys.modules.get(name)
        return getattr(module, "__version__", "not installed")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        return None


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(_REPO), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def machine() -> dict:
    """CPU, cores, memory, OS, load and library versions of this machine."""
    import tsengine

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    memory = _memory_gib()
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "CPU": _cpu_model(),
        "cores": f"{os.cpu_count()} logical, {usable} usable by this process",
        "memory": "unknown" if memory is None else f"{memory:.1f} GiB",
        "OS": platform.platform(),
        "load average (1 min) at start": "-" if load is None else f"{load[0]:.2f}",
        "Python": platform.python_version(),
        **{name: _version(name) for name in ("numpy", "pyarrow", "numba")},
        **{name: _version(name) for name in ("pandas", "polars", "zstandard")},
        "tsengine": f"{tsengine.__version__} ({_commit()})",
    }


# -- the report -----------------------------------------------------------------------


def fmt(x: float | None) -> str:
    """A figure with about three significant digits."""
    if x is None:
        return "-"
    a = abs(x)
    if a >= 100:
        return f"{x:,.0f}"
    if a >= 10:
        return f"{x:.1f}"
    if a >= 1:
        return f"{x:.2f}"
    return f"{x:#.3g}"


def _met(value: bool | None) -> str:
    return {True: "yes", False: "**no**", None: "-"}[value]


def markdown(results, info: dict, command: str, seconds: float, charts: list) -> str:
    """The report text."""
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# tsengine benchmark report",
        "",
        f"`{command}` on {when}, {seconds:.0f} s. Every figure is measured next to its "
        "baseline in the same run on the same machine. *Advantage* is how many times "
        "better tsengine is than the baseline (above 1: better): the ratio of rates, "
        "or for sizes and latencies the baseline's value over tsengine's.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in info.items()),
        "",
        "## Figures",
        "",
        "| suite | benchmark | tsengine | baseline (same run) | advantage | target "
        "| met |",
        "|---|---|---:|---|---:|---|---|",
    ]
    for r in results:
        for f in r.figures:
            adv = f.advantage
            lines.append(
                f"| {f.suite} | {f.benchmark} | {fmt(f.value)} {f.unit} | "
                f"{fmt(f.baseline)} {f.unit}, {f.baseline_name} | "
                f"{'-' if adv is None else fmt(adv) + 'x'} | {f.target or '-'} | "
                f"{_met(f.met)} |"
            )
    skipped = [r for r in results if r.missing or r.error]
    if skipped:
        lines += ["", "## Not measured in this run", ""]
        for r in skipped:
            why = r.missing or f"failed: `{r.error}`"
            lines.append(f"- **{r.name}** ({r.about}): {why}")
    lines += ["", "## Suites", ""]
    for r in results:
        if r.figures:
            lines.append(
                f"- **{r.name}** (benchmarks/{r.module}, {r.about}): "
                f"{len(r.figures)} figures in {r.seconds:.0f} s"
            )
    for r in results:
        if r.detail:
            lines += ["", f"## Details: {r.name}", "", r.detail]
    if charts:
        lines += ["", "## Charts", ""]
        lines += [f"![{Path(c).stem}]({Path(c).name})" for c in charts]
    return "\n".join(lines) + "\n"


def charts(results, out: Path) -> list[str]:
    """``advantage.png`` (every figure's advantage against its target) and
    ``figures.png`` (each figure's value beside its baseline); returns the paths."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figures = [f for r in results for f in r.figures if f.advantage]
    if not figures:
        return []
    paths = []

    # advantage per figure, log scale, coloured by whether its target is met
    fig = Figure(figsize=(9, 0.35 * len(figures) + 1.5), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    labels = [f"{f.suite}: {f.benchmark}" for f in figures]
    colors = [
        {True: "tab:green", False: "tab:red", None: "0.6"}[f.met] for f in figures
    ]
    ax.barh(range(len(figures)), [f.advantage for f in figures], color=colors)
    ax.axvline(1.0, color="k", lw=0.8)
    ax.set_xscale("log")
    ax.set_yticks(range(len(figures)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("advantage over the same-run baseline (x, log; > 1 is better)")
    ax.set_title("green: target met, red: missed, grey: no target", fontsize=9)
    fig.tight_layout()
    paths.append(str(out / "advantage.png"))
    fig.savefig(paths[-1])

    # each figure beside its baseline, in its own unit
    cols = 4
    rows = -(-len(figures) // cols)
    fig = Figure(figsize=(3.2 * cols, 2.4 * rows), dpi=100)
    FigureCanvasAgg(fig)
    for i, f in enumerate(figures):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.bar([0, 1], [f.value, f.baseline], color=["tab:blue", "0.6"])
        ax.set_xticks([0, 1], ["tsengine", "baseline"], fontsize=7)
        ax.set_title(f.benchmark, fontsize=7)
        ax.set_ylabel(f.unit, fontsize=7)
        ax.tick_params(axis="y", labelsize=6)
    fig.tight_layout()
    paths.append(str(out / "figures.png"))
    fig.savefig(paths[-1])
    return paths


def run(args: argparse.Namespace) -> int:
    """Run the suites, then write report.md, figures.json and the charts to --out."""
    try:
        runner = load_runner(args.benchmarks)
    except FileNotFoundError as exc:
        print(f"tsengine bench: error: {exc}", file=sys.stderr)
        return 2
    names = [n for n in (args.only or "").split(",") if n] or None
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    info = machine()
    command = "tsengine bench" + (" --quick" if args.quick else "")
    command += f" --only {args.only}" if args.only else ""

    def progress(message: str) -> None:
        print(f"running {message}", file=sys.stderr, flush=True)

    start = time.perf_counter()
    try:
        results = runner.run_suites(names, quick=args.quick, progress=progress)
    except ValueError as exc:
        print(f"tsengine bench: error: {exc}", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - start
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    info["load average (1 min) at end"] = "-" if load is None else f"{load:.2f}"

    pngs = charts(results, out)
    (out / "report.md").write_text(markdown(results, info, command, seconds, pngs))
    figures = runner.figures_json(results)
    (out / "figures.json").write_text(
        json.dumps({"machine": info, "quick": args.quick, "figures": figures}, indent=2)
        + "\n"
    )
    for r in results:
        state = r.missing or (f"FAILED: {r.error}" if r.error else "")
        print(f"{r.name:<12} {len(r.figures)} figures {state}".rstrip())
    print(f"report: {out / 'report.md'} ({len(figures)} figures, {seconds:.0f} s)")
    return 1 if any(r.error for r in results) else 0

"""``tsengine bench``: the report holds measured numbers beside baselines, and a suite
that is missing or fails is reported as such, never with a number.

The default runs the quick core suite (about 10 s); the whole quick run (about a
minute on 2 cores) is marked slow.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from tsengine.cli import bench as bench_cli
from tsengine.cli.main import main

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def runner():
    return bench_cli.load_runner(str(REPO / "benchmarks"))


def figure_rows(report: str) -> list[list[str]]:
    """Cells of the rows of the report's figures table."""
    section = report.split("## Figures", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    return [[c.strip() for c in row.strip("|").split("|")] for row in rows[1:]]


NUMBER = re.compile(r"^-?[\d,]+(\.\d+)?(e-?\d+)? \S")


def check_report(out: Path, suites: set[str]) -> list[dict]:
    report = (out / "report.md").read_text()
    figures = json.loads((out / "figures.json").read_text())["figures"]
    assert {f["suite"] for f in figures} == suites
    rows = figure_rows(report)
    assert len(rows) == len(figures) > 0
    for (suite, name, value, baseline, advantage, _, _), f in zip(rows, figures):
        assert (suite, name) == (f["suite"], f["benchmark"])
        assert NUMBER.match(value) and NUMBER.match(baseline), (value, baseline)
        assert advantage.endswith("x")
        assert math.isfinite(f["value"]) and math.isfinite(f["baseline"])
        assert f["value"] > 0 and f["baseline"] > 0
    for key in ("CPU", "cores", "memory", "numpy", "pyarrow", "numba", "Python"):
        assert f"| {key} |" in report
    for png in ("advantage.png", "figures.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG"
    return figures


def test_quick_core_report_numbers(tmp_path, capsys):
    out = tmp_path / "report"
    code = main(["bench", "--quick", "--only", "core", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    figures = check_report(out, {"core"})
    by_name = {f["benchmark"]: f for f in figures}
    hot = by_name["hot tier memory per (time, float64) point"]
    assert hot["baseline"] == 16.0 and hot["better"] == "lower"
    assert any(f["met"] is not None for f in figures)


def test_missing_suite_is_reported_not_invented(tmp_path, capsys):
    out = tmp_path / "report"
    code = main(["bench", "--quick", "--only", "codecs", "--out", str(out)])
    assert code == 0
    report = (out / "report.md").read_text()
    assert "## Not measured in this run" in report and "**codecs**" in report
    assert "bench_codecs.py has no figure function" in report
    assert json.loads((out / "figures.json").read_text())["figures"] == []
    assert figure_rows(report) == []


def test_failing_suite_is_reported_with_its_error(runner, monkeypatch, tmp_path):
    def broken(quick):
        raise RuntimeError("disk on fire")

    def fine(quick):
        return [runner.Figure("fake", "ok", "M/s", 2.0, "base", 4.0)]

    monkeypatch.setitem(runner.SUITES, "core", ("bench_core.py", broken, "broken"))
    monkeypatch.setitem(runner.SUITES, "flight", ("bench_flight.py", fine, "fine"))
    results = runner.run_suites(["core", "flight"], quick=True)
    assert results[0].error == "RuntimeError: disk on fire" and not results[0].figures
    text = bench_cli.markdown(results, {"CPU": "x"}, "tsengine bench", 1.0, [])
    assert "failed: `RuntimeError: disk on fire`" in text
    assert figure_rows(text) == [
        ["fake", "ok", "2.00 M/s", "4.00 M/s, base", "0.500x", "-", "-"]
    ]
    with pytest.raises(ValueError, match="unknown suite"):
        runner.run_suites(["nope"])


def test_advantage_and_targets(runner):
    fig = runner.Figure
    twice = runner.parse_target(">= 2x baseline")
    fast = fig("s", "rate", "M/s", 30.0, "b", 10.0, targets=twice)
    assert fast.advantage == 3.0 and fast.met is True
    small = fig("s", "size", "bits", 4.0, "b", 16.0, better="lower")
    assert small.advantage == 4.0 and small.met is None
    bound = runner.parse_target("<= 20 us")
    slow = fig("s", "lat", "us", 25.0, "b", 50.0, better="lower", targets=bound)
    assert slow.advantage == 2.0 and slow.met is False
    assert runner.parse_target(">= 30 M points/s") == [(">=", 30.0, "value")]
    assert runner.parse_target("") == []


def test_fmt_keeps_three_digits():
    assert [bench_cli.fmt(x) for x in (1234.5, 12.345, 1.2345, 0.012345, None)] == [
        "1,234",
        "12.3",
        "1.23",
        "0.0123",
        "-",
    ]


@pytest.mark.slow
def test_full_quick_run_reports_every_suite(tmp_path, capsys):
    out = tmp_path / "report"
    code = main(["bench", "--quick", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    suites = {"core", "ingest", "durability", "window", "rollup", "compression"}
    suites.add("flight")
    figures = check_report(out, suites)
    assert len(figures) >= 20


def test_without_a_benchmarks_folder_says_so(tmp_path, capsys):
    code = main(["bench", "--benchmarks", str(tmp_path), "--out", str(tmp_path / "r")])
    assert code == 2
    assert "no benchmarks/report.py" in capsys.readouterr().err

"""Ingest parsing throughput: line protocol and CSV, each next to its baseline.

- Line protocol: typical plant lines (one measurement, two tags, three float fields,
  ns timestamps) parsed by :func:`tsengine.ingest.lineprotocol.parse_lines` into Arrow
  tables, against :func:`python_parse_lines`, a straightforward pure-Python parser
  producing the same tables, in the same run. Targets: >= 3 M lines/s on one core and
  >= 20x the pure-Python parser.
- CSV: every SKAB file through :func:`tsengine.ingest.csvfile.read_csv` (the ingest
  shape: UTC ns time, experiment tag) against plain ``pyarrow.csv.read_csv`` of the
  same files. Target: >= 80% of Arrow's rows/s.

From the repository root: ``PYTHONPATH=. python benchmarks/bench_lineprotocol.py``
prints the figures (``figures()`` returns them for the ``tsengine bench`` report);
``pytest benchmarks/bench_lineprotocol.py`` gives pytest-benchmark statistics.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from tsengine.ingest.csvfile import preset_options, read_csv
from tsengine.ingest.lineprotocol import parse_lines

SKAB = Path(__file__).resolve().parents[2] / "shared" / "data" / "skab"
NOW = 1_700_000_000_000_000_000
TARGETS = {
    "lp_lines_per_s": 3e6,
    "lp_cpu_lines_per_s": 3e6,
    "lp_speedup": 20.0,
    "csv_vs_arrow": 0.8,
}


def plant_lines(n: int, seed: int = 1) -> bytes:
    """``n`` lines like a plant gateway sends: pump,site,asset and three floats."""
    rng = np.random.default_rng(seed)
    vib = rng.normal(0.5, 0.1, n).round(6).tolist()
    temp = rng.normal(60.0, 5.0, n).round(3).tolist()
    pres = rng.normal(3.0, 0.2, n).round(4).tolist()
    start = 1_700_000_000_000_000_000
    return "".join(
        f"pump,site=plant{i % 3},asset=P-{i % 50:03d} vibration={vib[i]!r},"
        f"temperature={temp[i]!r},pressure={pres[i]!r} {start + i * 1_000_000}\n"
        for i in range(n)
    ).encode()


# -- the pure-Python baseline ---------------------------------------------------------


def _split(text: str, sep: str, limit: int = -1) -> list[str]:
    """Split on ``sep`` outside backslash escapes and double quotes."""
    if "\\" not in text and '"' not in text:
        return text.split(sep, limit)
    parts, current, quoted, i = [], [], False, 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            current.append(text[i : i + 2])
            i += 2
            continue
        if c == '"':
            quoted = not quoted
        if c == sep and not quoted and limit != 0:
            parts.append("".join(current))
            current = []
            limit -= 1
        else:
            current.append(c)
        i += 1
    parts.append("".join(current))
    return parts


def _unescape(text: str) -> str:
    return text.replace("\\,", ",").replace("\\=", "=").replace("\\ ", " ")


def _value(text: str):
    if text.startswith('"'):
        return text[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    if text[-1] == "i":
        return int(text[:-1])
    if text[-1] == "u":
        return int(text[:-1])
    if text in ("t", "T", "true", "True", "TRUE"):
        return True
    if text in ("f", "F", "false", "False", "FALSE"):
        return False
    return float(text)


def python_parse_lines(payload: bytes, now: int = NOW) -> dict[str, pa.Table]:
    """Line by line in Python into per-measurement columns, then Arrow tables."""
    columns: dict[str, dict[str, list]] = {}
    for line in payload.decode("utf-8").split("\n"):
        line = line.strip(" \r")
        if not line or line.startswith("#"):
            continue
        head, fields_text, *rest = _split(line, " ", 2)
        name, *tags = _split(head, ",")
        table = columns.setdefault(_unescape(name), {"time": []})
        row = len(table["time"])
        table["time"].append(int(rest[0]) if rest else now)
        for pair in [*tags, *_split(fields_text, ",")]:
            key, value = _split(pair, "=", 1)
            value = _unescape(value) if pair in tags else _value(value)
            key = _unescape(key)
            column = table.get(key)
            if column is None:
                column = table[key] = [None] * row
            column.append(value)
        for column in table.values():
            if len(column) == row:
                column.append(None)
    return {
        name: pa.table(
            {
                k: pa.array(v, pa.timestamp("ns", tz="UTC")) if k == "time" else v
                for k, v in table.items()
            }
        )
        for name, table in columns.items()
    }


# -- measurements ---------------------------------------------------------------------


def _best(fn, repeat: int, clock=time.perf_counter) -> float:
    """Best time of ``repeat`` calls after one warm-up call, in seconds of ``clock``."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        start = clock()
        fn()
        best = min(best, clock() - start)
    return best


def _best_pair(first, second, repeat: int) -> tuple[float, float]:
    """Best wall times of two functions run alternately, so both see the same load."""
    first(), second()
    best = [float("inf"), float("inf")]
    for _ in range(repeat):
        for i, fn in enumerate((first, second)):
            start = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - start)
    return best[0], best[1]


def _skab_files() -> list[Path]:
    return sorted(SKAB.glob("*/*.csv"))


def _read_skab_tsengine(files) -> int:
    return sum(read_csv(p, **preset_options("skab", p)).num_rows for p in files)


def _read_skab_arrow(files) -> int:
    parse = pacsv.ParseOptions(delimiter=";")
    return sum(pacsv.read_csv(p, parse_options=parse).num_rows for p in files)


def figures(lines: int = 1_000_000, python_lines: int = 100_000) -> dict[str, float]:
    """Throughput figures of this module, for the ``tsengine bench`` report."""
    payload = plant_lines(lines)
    sample = plant_lines(python_lines)

    # the baseline must produce the very tables tsengine produces
    ours = parse_lines(sample, now=NOW).tables["pump"]
    theirs = python_parse_lines(sample)["pump"]
    assert ours.to_pydict() == theirs.to_pydict()

    lp = _best(lambda: parse_lines(payload, now=NOW), repeat=5)
    # the parse is single-threaded: its thread's CPU time ignores other load
    lp_cpu = _best(lambda: parse_lines(payload, now=NOW), 5, time.thread_time)
    py = _best(lambda: python_parse_lines(sample), repeat=2)
    files = _skab_files()
    rows = _read_skab_tsengine(files)
    csv_ours, csv_arrow = _best_pair(
        lambda: _read_skab_tsengine(files), lambda: _read_skab_arrow(files), 15
    )
    return {
        "lp_lines_per_s": lines / lp,
        "lp_cpu_lines_per_s": lines / lp_cpu,
        "lp_mb_per_s": len(payload) / lp / 1e6,
        "lp_python_lines_per_s": python_lines / py,
        "lp_speedup": (lines / lp) / (python_lines / py),
        "csv_rows_per_s": rows / csv_ours,
        "csv_arrow_rows_per_s": rows / csv_arrow,
        "csv_vs_arrow": csv_arrow / csv_ours,
    }


# -- pytest-benchmark -----------------------------------------------------------------


@pytest.fixture(scope="module")
def plant_payload() -> bytes:
    return plant_lines(1_000_000)


@pytest.fixture(scope="module")
def plant_sample() -> bytes:
    return plant_lines(100_000)


def test_lineprotocol_tsengine(benchmark, plant_payload):
    benchmark.extra_info["lines"] = 1_000_000
    out = benchmark(parse_lines, plant_payload, now=NOW)
    assert out.lines == 1_000_000


def test_lineprotocol_python_baseline(benchmark, plant_sample):
    benchmark.extra_info["lines"] = 100_000
    out = benchmark.pedantic(python_parse_lines, (plant_sample,), rounds=3)
    assert out["pump"].num_rows == 100_000


def test_csv_skab_tsengine(benchmark):
    files = _skab_files()
    assert benchmark(_read_skab_tsengine, files) == 46806


def test_csv_skab_pyarrow_baseline(benchmark):
    files = _skab_files()
    assert benchmark(_read_skab_arrow, files) == 46806


def main() -> int:
    result = figures()
    for key, value in result.items():
        target = TARGETS.get(key)
        mark = "" if target is None else (" ok" if value >= target else " BELOW TARGET")
        print(f"{key:24s} {value:14,.2f}{mark}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``tsengine ingest`` end to end: real dataset families into a durable engine and into
a server, options for other layouts, the summary, rejected lines and errors.

Expected rows, times and values come from reading the files with ``csv``, ``gzip``,
plain splitting and ``datetime``, independently of Arrow and of tsengine's readers.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import json
import zoneinfo
from collections import Counter, defaultdict

import pyarrow as pa
import pytest

import tsengine
from tsengine.cli.fileoptions import guess_preset
from tsengine.cli.main import main

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
CMAPSS_T0 = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def ns(moment: dt.datetime) -> int:
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1000


def naive_utc_ns(text: str) -> int:
    return ns(dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.UTC))


def int_times(table: pa.Table) -> list[int]:
    return table.column("time").cast(pa.int64()).to_pylist()


def ingest(*argv, capsys=None) -> tuple[int, str]:
    code = main(["ingest", "--no-progress", *map(str, argv)])
    out = capsys.readouterr().out if capsys is not None else ""
    return code, out


@pytest.fixture(scope="module")
def nab_path(shared_data):
    return shared_data / "nab/realKnownCause/machine_temperature_system_failure.csv"


@pytest.fixture(scope="module")
def nab_rows(nab_path):
    with open(nab_path, newline="") as f:
        rows = list(csv.reader(f))[1:]
    return [(naive_utc_ns(t), float(v)) for t, v in rows]


def test_presets_are_guessed_from_the_first_line(shared_data, nab_path, tmp_path):
    assert guess_preset(nab_path) == "nab"
    assert guess_preset(shared_data / "skab/valve2/1.csv") == "skab"
    assert guess_preset(shared_data / "cmapss/train_FD001.txt.gz") == "cmapss"
    plain = tmp_path / "plain.csv"
    plain.write_text("time,v\n1,2\n")
    assert guess_preset(plain) is None


def test_nab_keeps_every_row_with_duplicates_keep(nab_path, nab_rows, tmp_path, capsys):
    summary_file = tmp_path / "summary.json"
    code, out = ingest(
        nab_path,
        "--data",
        tmp_path / "d",
        "--duplicates",
        "keep",
        "--summary-json",
        summary_file,
        capsys=capsys,
    )
    assert code == 0
    assert "22,695" in out and "rejected lines: 0" in out
    summary = json.loads(summary_file.read_text())
    table = summary["tables"]["machine_temperature_system_failure"]
    times = [t for t, _ in nab_rows]
    assert (table["rows"], table["points"], table["series"]) == (22695, 22695, 1)
    assert (table["start_ns"], table["end_ns"]) == (min(times), max(times))

    # stored: every row, in time order (the repeated hour holds both readings)
    with tsengine.Engine(tmp_path / "d") as engine:
        got = engine.read("machine_temperature_system_failure")
    assert got.num_rows == len(nab_rows) == 22695
    assert sorted(zip(int_times(got), got.column("value").to_pylist())) == sorted(
        nab_rows
    )
    assert int_times(got) == sorted(times)


def test_nab_default_policy_keeps_the_last_reading(
    nab_path, nab_rows, tmp_path, capsys
):
    code, _ = ingest(nab_path, "--data", tmp_path / "d", capsys=capsys)
    assert code == 0
    last = {}
    for t, v in nab_rows:
        last[t] = v  # file order: the second reading of a repeated time wins
    with tsengine.Engine(tmp_path / "d") as engine:
        got = engine.read("machine_temperature_system_failure")
    assert got.num_rows == len(last) == 22683
    assert dict(zip(int_times(got), got.column("value").to_pylist())) == last


def test_skab_every_file_every_row(shared_data, tmp_path, capsys):
    files = sorted((shared_data / "skab").glob("*/*.csv"))
    assert len(files) == 35
    expected = {}
    for path in files:
        with open(path, newline="") as f:
            rows = list(csv.reader(f, delimiter=";"))
        experiment = f"{path.parent.name}/{path.stem}"
        expected[experiment] = (
            [naive_utc_ns(r[0]) for r in rows[1:]],
            [float(r[rows[0].index("Current")]) for r in rows[1:]],
        )
    summary_file = tmp_path / "summary.json"
    code, _ = ingest(
        *files, "--data", tmp_path / "d", "--summary-json", summary_file, capsys=capsys
    )
    assert code == 0
    summary = json.loads(summary_file.read_text())["tables"]["skab"]
    all_times = [t for times, _ in expected.values() for t in times]
    assert summary["rows"] == len(all_times)
    assert summary["series"] == 35
    assert (summary["start_ns"], summary["end_ns"]) == (min(all_times), max(all_times))

    with tsengine.Engine(tmp_path / "d") as engine:
        got = engine.read("skab", fields=["Current"])
    by_experiment = defaultdict(lambda: ([], []))
    for e, t, c in zip(
        got.column("experiment").to_pylist(),
        int_times(got),
        got.column("Current").to_pylist(),
    ):
        by_experiment[e][0].append(t)
        by_experiment[e][1].append(c)
    assert set(by_experiment) == set(expected)
    for experiment, (times, current) in expected.items():
        assert by_experiment[experiment] == (times, current), experiment


def test_cmapss_is_recognised_without_options(shared_data, tmp_path, capsys):
    path = shared_data / "cmapss/train_FD001.txt.gz"
    with gzip.open(path, "rt") as f:
        rows = [line.split() for line in f if line.strip()]
    summary_file = tmp_path / "summary.json"
    code, _ = ingest(
        path, "--data", tmp_path / "d", "--summary-json", summary_file, capsys=capsys
    )
    assert code == 0
    summary = json.loads(summary_file.read_text())["tables"]["train_FD001"]
    cycles = [int(r[1]) for r in rows]
    hour = 3_600 * 10**9
    assert (summary["rows"], summary["points"]) == (20_631, 20_631 * 24)
    assert summary["series"] == len({r[0] for r in rows}) == 100
    assert summary["start_ns"] == ns(CMAPSS_T0) + min(cycles) * hour
    assert summary["end_ns"] == ns(CMAPSS_T0) + max(cycles) * hour

    # unit 42, every cycle: time and two sensors as in the file
    with tsengine.Engine(tmp_path / "d") as engine:
        got = engine.read("train_FD001", where={"unit": "42"})
        assert engine.stats()["tables"]["train_FD001"]["points"] == 20_631
    mine = [r for r in rows if r[0] == "42"]
    assert int_times(got) == [ns(CMAPSS_T0) + int(r[1]) * hour for r in mine]
    assert got.column("sensor11").to_pylist() == [float(r[15]) for r in mine]
    assert got.column("setting1").to_pylist() == [float(r[2]) for r in mine]


def test_headerless_whitespace_file_with_local_times(tmp_path, capsys):
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    lines = [
        ("2024-03-31T01:30:00", "P-1", "0.5"),
        ("2024-03-31T03:30:00", "P-1", "0.75"),  # after the spring-forward gap
        ("2024-07-01T12:00:00", "P-2", "-1.25"),
    ]
    path = tmp_path / "raw.dat"
    path.write_text("".join(f"  {t}\t {a}   {v} \n" for t, a, v in lines))
    summary_file = tmp_path / "summary.json"
    code, _ = ingest(
        path,
        "--data",
        tmp_path / "d",
        "--format",
        "csv",
        "--no-header",
        "--columns",
        "ts,asset,vib",
        "--time-column",
        "ts",
        "--tags",
        "asset",
        "--separator",
        "whitespace",
        "--tz",
        "Europe/Berlin",
        "--table",
        "pump",
        "--summary-json",
        summary_file,
        capsys=capsys,
    )
    assert code == 0
    expected = sorted(
        (a, ns(dt.datetime.fromisoformat(t).replace(tzinfo=berlin)), float(v))
        for t, a, v in lines
    )
    with tsengine.Engine(tmp_path / "d") as engine:
        got = engine.read("pump")
    rows = zip(
        got.column("asset").to_pylist(), int_times(got), got.column("vib").to_pylist()
    )
    assert sorted(rows) == expected
    assert json.loads(summary_file.read_text())["tables"]["pump"]["series"] == 2


def test_numeric_times_with_unit_and_origin(tmp_path, capsys):
    path = tmp_path / "counts.csv"
    path.write_text("t;line;count\n0;A;1\n90;A;2\n90;B;3\n")
    code, _ = ingest(
        path,
        "--data",
        tmp_path / "d",
        "--time-column",
        "t",
        "--time-unit",
        "s",
        "--time-origin",
        "2024-01-01T00:00:00+01:00",
        "--separator",
        ";",
        "--tags",
        "line",
        capsys=capsys,
    )
    assert code == 0
    origin = ns(dt.datetime(2023, 12, 31, 23, tzinfo=dt.UTC))
    with tsengine.Engine(tmp_path / "d") as engine:
        got = engine.read("counts")
    assert sorted(zip(got.column("line").to_pylist(), int_times(got))) == [
        ("A", origin),
        ("A", origin + 90 * 10**9),
        ("B", origin + 90 * 10**9),
    ]
    assert got.schema.field("count").type == pa.int64()


LINES = (
    b"pump,site=A,asset=P-1 vib=0.5,temp=20i 1000\n"
    b"pump,site=A,asset=P-1 vib=0.75 2000\n"
    b"pump,site=A,asset=P-2 vib=oops 3000\n"
    b"# a comment\n"
    b"flow,site=B rate=12.5 4000\n"
)


def test_line_protocol_skip_reports_rejected_lines(tmp_path, capsys):
    path = tmp_path / "plant.lp"
    path.write_bytes(LINES)
    summary_file = tmp_path / "summary.json"
    code, out = ingest(
        path,
        "--data",
        tmp_path / "d",
        "--on-error",
        "skip",
        "--summary-json",
        summary_file,
        capsys=capsys,
    )
    assert code == 0
    assert "rejected lines: 1" in out and "plant.lp:3:" in out
    summary = json.loads(summary_file.read_text())
    assert [r["line"] for r in summary["rejected"]] == [3]
    assert summary["tables"]["pump"]["rows"] == 2
    assert summary["tables"]["pump"]["points"] == 3  # vib, temp, vib
    assert summary["tables"]["flow"]["series"] == 1
    with tsengine.Engine(tmp_path / "d") as engine:
        pump = engine.read("pump")
        assert pump.column("temp").to_pylist() == [20, None]
        assert engine.read("flow").column("rate").to_pylist() == [12.5]


def test_line_protocol_error_stops_and_names_the_line(tmp_path, capsys):
    path = tmp_path / "plant.lp"
    path.write_bytes(LINES)
    code = main(["ingest", "--no-progress", str(path), "--data", str(tmp_path / "d")])
    captured = capsys.readouterr()
    assert code == 2
    assert "plant.lp" in captured.err and "line 3" in captured.err
    with tsengine.Engine(tmp_path / "d") as engine:
        assert engine.tables() == []  # all-or-nothing within the parsed chunk


def test_into_a_running_server(nab_path, nab_rows, tmp_path, capsys):
    engine = tsengine.Engine()
    server = tsengine.serve(engine, "grpc://127.0.0.1:0")
    try:
        code, out = ingest(
            nab_path,
            "--url",
            f"grpc://127.0.0.1:{server.port}",
            "--duplicates",
            "keep",
            "--batch-rows",
            "5000",
            capsys=capsys,
        )
        assert code == 0
        got = engine.read("machine_temperature_system_failure")
        assert got.num_rows == len(nab_rows)
        assert Counter(got.column("value").to_pylist()) == Counter(
            v for _, v in nab_rows
        )
        assert engine.definition("machine_temperature_system_failure").duplicates == (
            "keep"
        )
    finally:
        server.shutdown()
        engine.close()


def test_missing_file_and_bad_options(tmp_path, capsys):
    code = main(["ingest", str(tmp_path / "nope.csv"), "--data", str(tmp_path / "d")])
    assert code == 2
    assert "nope.csv" in capsys.readouterr().err
    path = tmp_path / "x.unknown"
    path.write_text("a,b\n")
    code = main(["ingest", str(path), "--data", str(tmp_path / "d")])
    assert code == 2
    assert "cannot tell the format" in capsys.readouterr().err
    plain = tmp_path / "plain.csv"
    plain.write_text("a,b\n1,2\n")
    code = main(["ingest", str(plain), "--data", str(tmp_path / "d")])
    out, err = capsys.readouterr()
    assert code == 2
    assert "first line 'a,b'" in err and "--time-column" in err
    assert "ingested" not in out  # no empty summary before the error


def test_data_dir_that_is_a_file_is_a_clean_error(tmp_path, capsys):
    path = tmp_path / "not-a-dir"
    path.write_text("x")
    assert main(["query", "tables", "--data", str(path)]) == 2
    assert "no engine directory" in capsys.readouterr().err
    source = tmp_path / "plain.csv"
    source.write_text("t,v\n1,2.0\n")
    argv = [source, "--data", path, "--time-column", "t", "--time-unit", "s"]
    code, _ = ingest(*argv)
    assert code == 2
    assert "Not a directory" in capsys.readouterr().err


# -- tsengine query on what was ingested -----------------------------------------------


@pytest.fixture(scope="module")
def plant_dir(tmp_path_factory):
    base = tmp_path_factory.mktemp("plant")
    path = base / "pump.csv"
    rows = [(i * 500_000_000, f"P-{i % 2}", float(i)) for i in range(40)]
    path.write_text("t,asset,v\n" + "".join(f"{t},{a},{v}\n" for t, a, v in rows))
    argv = ["ingest", "--no-progress", str(path), "--data", str(base / "d")]
    argv += ["--time-column", "t", "--time-unit", "ns", "--tags", "asset"]
    assert main(argv) == 0
    return base / "d", rows


def test_query_read_to_csv_and_latest_table(plant_dir, tmp_path, capsys):
    data_dir, rows = plant_dir
    out = tmp_path / "p1.csv"
    argv = ["query", "read", "pump", "--data", str(data_dir), "--where", "asset=P-1"]
    assert main([*argv, "--start", "5000000000", "--out", str(out)]) == 0
    with open(out, newline="") as f:
        got = list(csv.DictReader(f))
    expected = [r for r in rows if r[1] == "P-1" and r[0] >= 5 * 10**9]
    assert [float(g["v"]) for g in got] == [v for _, _, v in expected]
    capsys.readouterr()
    assert main(["query", "latest", "pump", "--data", str(data_dir)]) == 0
    printed = capsys.readouterr().out
    assert "38.0" in printed and "39.0" in printed and "2 rows" in printed


def test_query_aggregate_to_parquet(plant_dir, tmp_path):
    import pyarrow.parquet as pq

    data_dir, rows = plant_dir
    out = tmp_path / "kpis.parquet"
    argv = ["query", "aggregate", "pump", "--data", str(data_dir), "--every", "5s"]
    argv += ["--aggs", "v:count,max", "--by", "asset", "--out", str(out)]
    assert main(argv) == 0
    table = pq.read_table(out)
    window = 5 * 10**9
    got = {
        (a, t): (n, m)
        for a, t, n, m in zip(
            table.column("asset").to_pylist(),
            int_times(table),
            table.column("v_count").to_pylist(),
            table.column("v_max").to_pylist(),
        )
    }
    expected: dict = {}
    for t, a, v in rows:
        key = (a, t // window * window)
        n, m = expected.get(key, (0, v))
        expected[key] = (n + 1, max(m, v))
    assert got == expected


def test_query_errors(plant_dir, capsys):
    data_dir, _ = plant_dir
    assert (
        main(["query", "read", "pump", "--data", str(data_dir), "--out", "x.txt"]) == 2
    )
    assert "must end in .csv or .parquet" in capsys.readouterr().err
    assert main(["query", "aggregate", "pump", "--data", str(data_dir)]) == 2
    assert "needs --every" in capsys.readouterr().err
    missing_dir = data_dir.parent / "no-such-dir" / "out.csv"
    argv = ["query", "read", "pump", "--data", str(data_dir), "--out", str(missing_dir)]
    assert main(argv) == 2
    assert "no-such-dir" in capsys.readouterr().err
    assert main(["query", "read", "pump", "--data", str(data_dir / "nope")]) == 2

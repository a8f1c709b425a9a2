"""CSV readers on the real dataset families (NAB, SKAB, C-MAPSS) and on small files
for each option. The expected values come from reading the same files with Python's
``csv`` module (or plain splitting) and ``datetime``, independently of Arrow."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import math

import pyarrow as pa
import pytest

from tsengine.errors import ParseError, SchemaError, TimestampError
from tsengine.ingest.csvfile import CMAPSS_COLUMNS, preset_options, read_csv
from tsengine.ingest.shape import TIME_TYPE, table_name, tag_columns

EPOCH = dt.datetime(1970, 1, 1)


def naive_ns(text: str) -> int:
    """ns since the epoch of a naive ``YYYY-MM-DD HH:MM:SS`` taken as UTC."""
    delta = dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S") - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 10**9


def times(table: pa.Table) -> list[int]:
    assert table.schema.field("time").type == TIME_TYPE
    return table.column("time").cast(pa.int64()).to_pylist()


# -- NAB -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def nab_files(shared_data):
    files = sorted((shared_data / "nab").glob("real*/*.csv"))
    assert len(files) == 20
    return files


def test_nab_files_match_the_csv_module(nab_files):
    for path in nab_files:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
        assert rows[0] == ["timestamp", "value"]
        table = read_csv(path, **preset_options("nab", path))
        assert table.column_names == ["time", "value"]
        assert table_name(table) == path.stem
        assert times(table) == [naive_ns(r[0]) for r in rows[1:]], path.name
        assert table.column("value").to_pylist() == [float(r[1]) for r in rows[1:]]


def test_nab_known_facts(shared_data):
    path = shared_data / "nab/realKnownCause/machine_temperature_system_failure.csv"
    table = read_csv(path, time_column="timestamp")
    t = times(table)
    assert table.num_rows == 22695
    assert (t[0], t[-1]) == (
        naive_ns("2013-12-02 21:15:00"),
        naive_ns("2014-02-19 15:25:00"),
    )
    # file line 10151 (data row 10150) goes back in time; rows keep file order
    assert t[10149] == naive_ns("2014-01-07 02:00:00") < t[10148]
    assert table.column("value").to_pylist()[:2] == [73.96732207, 74.93588199999998]


def test_nab_with_a_local_time_zone(shared_data):
    # 2014-03-09 03:00 (US spring-forward day; 12 rows) exists in New York time
    path = shared_data / "nab/realKnownCause/ec2_request_latency_system_failure.csv"
    utc = times(read_csv(path, time_column="timestamp"))
    local = times(read_csv(path, time_column="timestamp", tz="America/New_York"))
    hour = 3600 * 10**9
    assert local[0] - utc[0] == 5 * hour  # EST in March before the change
    assert local[-1] - utc[-1] == 4 * hour  # EDT after it
    assert local.count(naive_ns("2014-03-09 03:00:00") + 4 * hour) == 12


# -- SKAB ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def skab_files(shared_data):
    files = sorted((shared_data / "skab").glob("*/*.csv"))
    assert len(files) == 35
    return files


def test_skab_files_match_the_csv_module(skab_files):
    total = 0
    for path in skab_files:
        with open(path, newline="") as f:
            rows = list(csv.reader(f, delimiter=";"))
        header, data = rows[0], rows[1:]
        table = read_csv(path, **preset_options("skab", path))
        experiment = f"{path.parent.name}/{path.stem}"
        assert table_name(table) == "skab"
        assert tag_columns(table) == ["experiment"]
        assert table.column_names == ["time", "experiment", *header[1:]]
        assert table.column("experiment").unique().to_pylist() == [experiment]
        assert times(table) == [naive_ns(r[0]) for r in data], path
        for i, name in enumerate(header[1:], start=1):
            assert table.column(name).to_pylist() == [float(r[i]) for r in data]
        total += len(data)
    assert total == 46806


def test_skab_known_facts(shared_data):
    table = read_csv(
        shared_data / "skab/valve1/0.csv", time_column="datetime", separator=";"
    )
    t = times(table)
    assert table.num_rows == 1147
    assert (t[0], t[-1]) == (
        naive_ns("2020-03-09 10:14:33"),
        naive_ns("2020-03-09 10:34:32"),
    )
    assert sum(table.column("anomaly").to_pylist()) == 401
    assert table.column("Volume Flow RateRMS").to_pylist()[0] == 32.0
    free = read_csv(
        shared_data / "skab/anomaly-free/anomaly-free.csv",
        time_column="datetime",
        separator=";",
    )
    assert free.num_rows == 9405 and "anomaly" not in free.column_names
    assert min(free.column("Pressure").to_pylist()) < 0


# -- C-MAPSS ---------------------------------------------------------------------------


def _cmapss_rows(path) -> list[list[str]]:
    with gzip.open(path, "rt") as f:
        return [line.split() for line in f if line.strip()]


@pytest.mark.parametrize(
    "name,rows,cycles",
    [
        ("train_FD001.txt.gz", 20631, (128, 362)),
        ("test_FD001.txt.gz", 13096, (31, 303)),
        ("test_FD003.txt.gz", 16596, (38, 475)),
    ],
)
def test_cmapss_files_match_plain_splitting(shared_data, name, rows, cycles):
    path = shared_data / "cmapss" / name
    expected = _cmapss_rows(path)
    table = read_csv(path, **preset_options("cmapss", path))
    assert table.num_rows == len(expected) == rows
    assert table_name(table) == name.split(".")[0]
    assert tag_columns(table) == ["unit"]
    assert table.column_names == ["time", "unit", *CMAPSS_COLUMNS[2:]]

    # time: 2000-01-01T00:00:00Z plus one hour per cycle
    origin = (dt.datetime(2000, 1, 1) - EPOCH).days * 86_400 * 10**9
    assert times(table) == [origin + int(r[1]) * 3600 * 10**9 for r in expected]
    assert table.column("unit").to_pylist() == [r[0] for r in expected]
    for i, column in enumerate(CMAPSS_COLUMNS[2:], start=2):
        assert table.column(column).to_pylist() == [float(r[i]) for r in expected]

    # per-unit lengths as the dataset readme states them
    per_unit: dict[str, int] = {}
    for r in expected:
        per_unit[r[0]] = max(per_unit.get(r[0], 0), int(r[1]))
    assert len(per_unit) == 100
    assert (min(per_unit.values()), max(per_unit.values())) == cycles


# -- options on small files ------------------------------------------------------------


def write(tmp_path, text: str, name: str = "f.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_time_format_and_tags(tmp_path):
    path = write(
        tmp_path, "when,site,unit,v\n03/01/2024 10:00,A,7,1.5\n03/01/2024 10:01,B,8,\n"
    )
    table = read_csv(
        path, time_column="when", time_format="%d/%m/%Y %H:%M", tags=["site", "unit"]
    )
    assert table.column_names == ["time", "site", "unit", "v"]
    assert table.column("unit").to_pylist() == ["7", "8"]
    assert table.column("v").to_pylist() == [1.5, None]
    assert times(table)[0] == naive_ns("2024-01-03 10:00:00")


def test_iso_times_with_offsets(tmp_path):
    path = write(tmp_path, "t,v\n2024-01-01T00:00:00Z,1\n2024-01-01T01:00:00+01:00,2\n")
    assert (
        times(read_csv(path, time_column="t")) == [naive_ns("2024-01-01 00:00:00")] * 2
    )


@pytest.mark.parametrize(
    "text,unit,origin,expected",
    [
        ("5\n-2\n", "s", 0, [5 * 10**9, -2 * 10**9]),
        ("5\n", "ms", "2000-01-01T00:00:00Z", [946_684_800_005_000_000]),
        ("1.5\n-0.25\n", "s", 0, [1_500_000_000, -250_000_000]),
        ("9223372036854775807\n", "ns", 0, [2**63 - 1]),
        ("3\n", "d", -(10**9), [3 * 86_400 * 10**9 - 10**9]),
    ],
)
def test_numeric_time_columns(tmp_path, text, unit, origin, expected):
    path = write(tmp_path, "t\n" + text)
    table = read_csv(path, time_column="t", time_unit=unit, time_origin=origin)
    assert times(table) == expected


@pytest.mark.parametrize(
    "text,unit,origin",
    [("9223372037\n", "s", 0), ("9223372036854775807\n", "ns", 1), ("1e300\n", "s", 0)],
)
def test_numeric_time_out_of_range(tmp_path, text, unit, origin):
    path = write(tmp_path, "t\n" + text)
    with pytest.raises(TimestampError, match="outside the int64 ns range"):
        read_csv(path, time_column="t", time_unit=unit, time_origin=origin)


def test_dst_gaps_and_overlaps_raise_unless_told(tmp_path):
    path = write(tmp_path, "t,v\n2024-03-31 02:30:00,1\n")
    with pytest.raises(TimestampError, match="Europe/Berlin"):
        read_csv(path, time_column="t", tz="Europe/Berlin")
    table = read_csv(path, time_column="t", tz="Europe/Berlin", nonexistent="earliest")
    # the last nanosecond before the gap (01:00 UTC, when 02:00 local became 03:00)
    assert times(table) == [naive_ns("2024-03-31 01:00:00") - 1]
    table = read_csv(path, time_column="t", tz="Europe/Berlin", nonexistent="latest")
    assert times(table) == [naive_ns("2024-03-31 01:00:00")]


def test_nan_is_a_value_and_empty_is_null(tmp_path):
    path = write(tmp_path, "t,v\n1,NaN\n2,\n3,4\n")
    values = read_csv(path, time_column="t", time_unit="s").column("v").to_pylist()
    assert math.isnan(values[0]) and values[1:] == [None, 4.0]


def test_errors_name_what_is_wrong(tmp_path):
    path = write(tmp_path, "t,v\n1,2\n,3\n")
    with pytest.raises(TimestampError, match="empty on data row 2"):
        read_csv(path, time_column="t", time_unit="s")
    with pytest.raises(TimestampError, match="give time_unit"):
        read_csv(path, time_column="v")
    with pytest.raises(SchemaError, match="'nope'"):
        read_csv(path, time_column="nope")
    with pytest.raises(SchemaError, match="'site'"):
        read_csv(path, time_column="t", time_unit="s", tags=["site"])
    twice = write(tmp_path, "t,v,v\n1,2,3\n", "twice.csv")
    with pytest.raises(SchemaError, match=r"\['v'\] appear more than once"):
        read_csv(twice, time_column="t", time_unit="s")
    with pytest.raises(ValueError, match="column_names"):
        read_csv(path, time_column="t", header=False)
    with pytest.raises(ValueError, match="separator"):
        read_csv(path, time_column="t", separator="::")
    with pytest.raises(ParseError, match="f.csv"):
        read_csv(write(tmp_path, "t,v\n1,2,3\n"), time_column="t")
    with pytest.raises(TimestampError, match="'t'"):
        read_csv(write(tmp_path, "t,v\nmonday,1\n", "g.csv"), time_column="t")
    late = write(tmp_path, "t,v\n2300-01-01 00:00:00,1\n", "h.csv")
    with pytest.raises(TimestampError, match="out of bounds"):
        read_csv(late, time_column="t")
    with pytest.raises(TimestampError, match="out of bounds"):
        read_csv(late, time_column="t", tz="Asia/Tokyo")


def test_header_replaced_by_column_names(tmp_path):
    path = write(tmp_path, "a b  c\n1 2 3  \n 4\t5 6\n", "w.txt")
    table = read_csv(
        path,
        time_column="x",
        time_unit="s",
        separator="whitespace",
        column_names=["x", "y", "z"],
    )
    assert table.to_pydict()["y"] == [2, 5] and times(table) == [10**9, 4 * 10**9]

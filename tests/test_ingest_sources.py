"""open_source: format detection, line protocol read in chunks (same result as one
parse, whatever the chunk size), CSV presets and Parquet, progress in bytes."""

from __future__ import annotations

import gzip

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tsengine.errors import ParseError, SchemaError
from tsengine.ingest.csvfile import preset_options, read_csv
from tsengine.ingest.lineprotocol import parse_lines
from tsengine.ingest.shape import TIME_TYPE, tag_columns
from tsengine.ingest.sources import detect_format, open_source

NOW = 1_650_000_000_000_000_000


def collect(source) -> dict[str, pa.Table]:
    """All chunks of a source, concatenated per table (columns unified)."""
    parts: dict[str, list[pa.Table]] = {}
    for name, table in source:
        parts.setdefault(name, []).append(table)
    return {
        name: pa.concat_tables(tables, promote_options="default")
        for name, tables in parts.items()
    }


def by_column(table: pa.Table) -> dict[str, list]:
    return {name: table.column(name).to_pylist() for name in sorted(table.column_names)}


# -- format detection ------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,fmt",
    [
        ("a.lp", "lineprotocol"),
        ("a.txt", "lineprotocol"),
        ("a.LP.gz", "lineprotocol"),
        ("b.csv", "csv"),
        ("b.tsv.gz", "csv"),
        ("c.parquet", "parquet"),
        ("c.pq", "parquet"),
    ],
)
def test_detect_format(name, fmt):
    assert detect_format(name) == fmt


def test_unknown_names_and_options(tmp_path):
    with pytest.raises(ValueError, match="cannot tell the format of"):
        detect_format("data.json")
    path = tmp_path / "x.lp"
    path.write_bytes(b"m f=1\n")
    with pytest.raises(TypeError, match="time_column"):
        open_source(path, time_column="t")
    with pytest.raises(ValueError, match="unknown format 'xml'"):
        open_source(path, format="xml")
    with pytest.raises(FileNotFoundError, match="nope.lp"):
        open_source(tmp_path / "nope.lp")


# -- line protocol files ---------------------------------------------------------------

_LINES = st.sampled_from(
    [
        b"pump,site=A v=1.5,n=2i 10",
        b"pump,site=B v=2.5 11",
        b'pump,site=A note="multi\nline, \\"quoted\\"" 12',
        b"valve,id=7 open=t",
        b"# a comment",
        b"",
        b"   ",
        b"pump v=oops 13",
        b"pump,site=C v=3 14\r",
        "pump,site=Zürich v=4 15".encode(),
    ]
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_LINES, max_size=25), st.integers(1, 64), st.booleans())
def test_chunked_file_equals_one_parse(tmp_path_factory, lines, chunk, bom):
    payload = (b"\xef\xbb\xbf" if bom else b"") + b"\n".join(lines)
    path = tmp_path_factory.mktemp("lp") / "plant.lp"
    path.write_bytes(payload)
    whole = parse_lines(payload, now=NOW, on_error="skip")
    with open_source(path, on_error="skip", now=NOW, chunk_bytes=chunk) as source:
        tables = collect(source)
        assert source.position_bytes == source.size_bytes == len(payload)
        assert source.rows == whole.lines
        assert source.rejected == whole.rejected
    assert list(tables) == list(whole.tables)
    for name, table in whole.tables.items():
        assert by_column(tables[name]) == by_column(table)


def test_gzipped_line_protocol_with_progress(tmp_path):
    lines = b"".join(b"m,k=%d f=%di %d\n" % (i % 4, i, i) for i in range(20_000))
    path = tmp_path / "big.lp.gz"
    path.write_bytes(gzip.compress(lines))
    positions = []
    with open_source(path, chunk_bytes=50_000) as source:
        for _ in source:
            positions.append(source.position_bytes)
        assert source.rows == 20_000
    assert positions == sorted(positions) and positions[-1] == path.stat().st_size
    assert len(positions) > 3


def test_errors_carry_file_line_numbers(tmp_path):
    path = tmp_path / "bad.lp"
    path.write_bytes(b"m f=1\n" * 1000 + b"m f=\n")
    with pytest.raises(ParseError, match="^line 1001, column 5: "):
        with open_source(path, chunk_bytes=100) as source:
            list(source)


# -- CSV and Parquet through open_source -----------------------------------------------


@pytest.mark.parametrize(
    "relative,preset",
    [
        ("nab/realTraffic/speed_6005.csv", "nab"),
        ("skab/other/13.csv", "skab"),
        ("cmapss/test_FD001.txt.gz", "cmapss"),
    ],
)
def test_csv_presets_stream_what_read_csv_reads(shared_data, relative, preset):
    path = shared_data / relative
    expected = read_csv(path, **preset_options(preset, path))
    with open_source(path, preset=preset, batch_rows=500) as source:
        chunks = list(source)
        assert source.position_bytes == source.size_bytes
    assert {name for name, _ in chunks} == {"speed_6005", "skab", "test_FD001"} & {
        name for name, _ in chunks
    }
    assert all(t.num_rows <= 500 for _, t in chunks)
    assert pa.concat_tables([t for _, t in chunks]).equals(expected)


def test_parquet_any_time_unit_and_zone(tmp_path):
    berlin = pa.array(
        [0, 3_600_000_000, 7_200_000_000], pa.timestamp("us", tz="Europe/Berlin")
    )
    source_table = pa.table(
        {"ts": berlin, "unit": pa.array([1, 2, 1]), "v": [0.5, None, 1.5]}
    )
    path = tmp_path / "x.parquet"
    pq.write_table(source_table, path, row_group_size=2)
    with open_source(path, time_column="ts", tags=["unit"], batch_rows=2) as source:
        chunks = list(source)
    assert [name for name, _ in chunks] == ["x", "x"]
    table = pa.concat_tables([t for _, t in chunks])
    assert table.schema.field("time").type == TIME_TYPE
    assert tag_columns(table) == ["unit"]
    assert table.column("time").cast(pa.int64()).to_pylist() == [
        0,
        3_600_000_000_000,
        7_200_000_000_000,
    ]
    assert table.column("unit").to_pylist() == ["1", "2", "1"]
    assert table.column("v").to_pylist() == [0.5, None, 1.5]


def test_parquet_errors(tmp_path):
    path = tmp_path / "y.parquet"
    pq.write_table(pa.table({"t": [1, 2]}), path)
    with pytest.raises(SchemaError, match="'time'"):
        list(open_source(path))
    with pytest.raises(TypeError, match="separator"):
        list(open_source(path, separator=";"))
    with open_source(path, time_column="t", time_unit="ms", table="t2") as source:
        ((name, table),) = list(source)
    assert name == "t2" and table.column("time").cast(pa.int64()).to_pylist() == [
        1_000_000,
        2_000_000,
    ]

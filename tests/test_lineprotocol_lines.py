"""Line protocol parser: line structure, errors and their positions, request modes,
and the shape of the tables (columns, nulls, types) on larger inputs."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from test_lineprotocol import NOW, error, one, points

from tsengine.errors import BudgetError, ParseError, SchemaError, TimestampError
from tsengine.ingest.lineprotocol import Rejected, parse_lines, tag_columns

# -- line structure -------------------------------------------------------------------


def test_comments_blank_lines_and_spaces():
    payload = b"# header\n\n   \n  m f=1 1  \n   # indented comment\n\n#last"
    assert points(payload) == [("m", {}, {"f": ("f", 1.0)}, 1)]


def test_crlf_line_endings():
    got = points(b"# c\r\nm f=1 1\r\n\r\nm f=2\r\n")
    assert got == [("m", {}, {"f": ("f", 1.0)}, 1), ("m", {}, {"f": ("f", 2.0)}, NOW)]


def test_a_lone_carriage_return_is_no_line_end():
    assert "timestamp" in error(b"m f=1 1\rm f=2 2").reason


def test_leading_byte_order_mark_is_skipped():
    assert one(b"\xef\xbb\xbfm f=1") == ("m", {}, {"f": ("f", 1.0)}, NOW)
    assert one("\ufeffm f=1") == ("m", {}, {"f": ("f", 1.0)}, NOW)
    err = error(b"\xef\xbb\xbfm f=x")
    assert (err.line, err.column, err.text) == (1, 5, "m f=x")


def test_str_and_bytes_payloads_agree():
    text = 'pump,site=Zürich v=1.5,s="ü" 7\n'
    assert points(text) == points(text.encode()) == points(bytearray(text.encode()))
    assert points(memoryview(text.encode())) == points(text)


def test_comment_with_a_control_byte_is_an_error():
    err = error(b"m f=1\n# a\tb\n")
    assert (err.line, err.column) == (2, 4) and "control character '\\t'" in err.reason


@pytest.mark.parametrize(
    "payload,what",
    [
        (b"\xffm f=1", "measurement name"),
        (b"m,\xc3=v f=1", "tag key"),
        (b"m,t=\xed\xa0\x80 f=1", "tag value"),
        (b"m \xe2\x82=1", "field key"),
        (b'm s="ok\xc0\xaf"', "string value"),
        (b"m,t=\xf4\x90\x80\x80 f=1", "tag value"),
    ],
)
def test_invalid_utf8_is_an_error(payload, what):
    assert (
        f"{what}" in error(payload).reason
        and "not valid UTF-8" in error(payload).reason
    )


def test_invalid_utf8_in_a_comment_is_ignored():
    # comments are dropped unread, as the reference decoder does
    assert points(b"# \xff\xfe\nm f=1 1") == [("m", {}, {"f": ("f", 1.0)}, 1)]


STRUCTURE_ERRORS = [
    (b"m", 2, "no field set"),
    (b"m ", 3, "no field set"),
    (b"m,t=1", 6, "no field set"),
    (b"m,t=1 ", 7, "no field set"),
    (b",t=1 f=1", 1, "expected a measurement name"),
    (b" \tm f=1", 2, "expected a measurement name"),
    (b"m\tf=1", 2, "after the measurement name"),
    (b"m,=v f=1", 3, "expected a tag key"),
    (b"m, t=v f=1", 3, "expected a tag key"),
    (b"m,t=v, f=1", 7, "expected a tag key"),
    (b"m,t f=1", 4, "expected '=' after tag key 't'"),
    (b"m,t= f=1", 5, "tag 't' has an empty value"),
    (b"m,t=a=b f=1", 6, "after the value of tag 't'"),
    (b"m f", 4, "expected '=' after field key 'f'"),
    (b"m =1", 3, "expected a field key"),
    (b"m f=", 5, "starts with the end of the input"),
    (b"m f=1,", 7, "expected a field key"),
    (b"m f=1,,g=2", 7, "expected a field key"),
    (b'm f="abc', 5, "has no closing quote"),
    (b"m f=1;g=2", 5, "value '1;g=2' of field 'f' is not a valid float"),
    (b'm f="a"b', 8, "after the value of field 'f'"),
]


@pytest.mark.parametrize("payload,column,reason", STRUCTURE_ERRORS)
def test_structure_errors_name_the_column(payload, column, reason):
    err = error(b"ok f=1\n" + payload)
    assert (err.line, err.column) == (2, column)
    assert reason in err.reason
    assert str(err).startswith(f"line 2, column {column}: ")
    assert err.text == payload.decode()


# -- rules of tsengine's tables -------------------------------------------------------


@pytest.mark.parametrize(
    "payload,key",
    [(b"m f=1,f=2", "f"), (b"m,t=1,t=2 f=1", "t"), (b"m,k=1 k=2", "k")],
)
def test_a_key_may_appear_once_per_line(payload, key):
    assert f"key {key!r} appears more than once" in error(payload).reason


@pytest.mark.parametrize("payload", [b"m,time=1 f=1", b"m time=1", b"m f=1,time=2i"])
def test_time_is_no_tag_or_field_key(payload):
    assert "reserved" in error(payload).reason
    assert one(b"time f=1")[0] == "time"


def test_field_type_conflict_is_a_schema_error_naming_the_line():
    with pytest.raises(SchemaError) as info:
        parse_lines(b"m f=1\nother f=1i\n\nm f=2i\n", now=NOW)
    err = info.value
    assert (err.line, err.column) == (4, 3)
    assert err.reason == (
        "field 'f' of measurement 'm' is int64 on line 4 but float64 since line 1"
    )


def test_tag_and_field_with_one_key_is_a_schema_error():
    with pytest.raises(
        SchemaError, match="'k' of measurement 'm' is a field on line 2"
    ):
        parse_lines(b"m,k=a f=1\nm k=1\n", now=NOW)
    with pytest.raises(SchemaError, match="is a tag on line 2 but a field"):
        parse_lines(b"m k=1\nm,k=a f=1\n", now=NOW)


def test_missing_tags_and_fields_are_null_and_columns_ordered():
    table = parse_lines(b"m,a=1 x=1\nm,b=2 y=2i\nm z=t 3", now=NOW).tables["m"]
    assert table.column_names == ["time", "a", "b", "x", "y", "z"]
    assert tag_columns(table) == ["a", "b"]
    assert table.schema.types[1:] == [
        pa.string(),
        pa.string(),
        pa.float64(),
        pa.int64(),
        pa.bool_(),
    ]
    assert table.to_pydict() == {
        "time": table.column("time").to_pylist(),
        "a": ["1", None, None],
        "b": [None, "2", None],
        "x": [1.0, None, None],
        "y": [None, 2, None],
        "z": [None, None, True],
    }
    assert table.column("time").cast(pa.int64()).to_pylist() == [NOW, NOW, 3]


def test_measurements_get_their_own_tables():
    out = parse_lines(b"a f=1 1\nb,t=x g=2i 2\na f=3 3\n", now=NOW)
    assert list(out.tables) == ["a", "b"]
    assert out.tables["a"].column("f").to_pylist() == [1.0, 3.0]
    assert out.tables["b"].column_names == ["time", "t", "g"]


def test_empty_payload():
    out = parse_lines(b"", now=NOW)
    assert (out.tables, out.rejected, out.lines) == ({}, [], 0)
    assert parse_lines(b"# only\n\n", now=NOW).lines == 0


# -- request modes --------------------------------------------------------------------


def test_skip_keeps_good_lines_and_lists_the_bad_ones():
    payload = b"m f=1 1\nm f=x 2\nm f=3 3\nm f=4i 4\nm, f=5 5\nm f=6 6"
    out = parse_lines(payload, on_error="skip", now=NOW)
    assert out.lines == 3
    assert out.tables["m"].column("f").to_pylist() == [1.0, 3.0, 6.0]
    assert [(r.line, r.column, r.text) for r in out.rejected] == [
        (2, 5, "m f=x 2"),
        (4, 3, "m f=4i 4"),
        (5, 3, "m, f=5 5"),
    ]
    assert isinstance(out.rejected[0], Rejected)
    assert "is int64 on line 4 but float64 since line 1" in out.rejected[1].reason


def test_raise_reports_the_first_bad_line_only():
    err = error(b"m f=1\nm f=x\nm f=\n")
    assert err.line == 2


def test_skip_with_a_line_cut_inside_a_string():
    out = parse_lines(b'm f=1 1\nm s="open\nm f=2 2\n', on_error="skip", now=NOW)
    assert out.lines == 1 and out.rejected[0].line == 2


def test_bad_arguments():
    with pytest.raises(TimestampError, match="unknown precision 'x'"):
        parse_lines(b"m f=1", precision="x")
    with pytest.raises(TimestampError, match="outside the int64"):
        parse_lines(b"m f=1", now=2**63)
    with pytest.raises(TimestampError, match="int nanoseconds"):
        parse_lines(b"m f=1", now=1.5)
    with pytest.raises(ValueError, match="on_error must be"):
        parse_lines(b"m f=1", on_error="ignore")
    with pytest.raises(TypeError, match="bytes or str"):
        parse_lines(12)
    with pytest.raises(ParseError, match="no UTF-8 encoding"):
        parse_lines('m s="\ud800"')


# -- larger inputs: growth of every buffer, against numpy-built expectations -----------


def test_many_lines_with_changing_shapes():
    rng = np.random.default_rng(7)
    n = 30_000
    vals = rng.normal(size=n).tolist()
    ints = rng.integers(-(2**62), 2**62, size=n).tolist()
    assets = rng.integers(0, 500, size=n).tolist()
    lines = []
    for i in range(n):
        extra = f',note="n{i}"' if i % 7 == 0 else ""
        tag = f",asset=A{assets[i]}" if i % 3 else ""
        lines.append(f"pump{tag} v={vals[i]!r},c={ints[i]}i{extra} {i}")
    table = parse_lines("\n".join(lines), now=NOW).tables["pump"]
    assert table.num_rows == n
    assert table.column("v").to_pylist() == vals
    assert table.column("c").to_pylist() == ints
    expect_asset = [f"A{a}" if i % 3 else None for i, a in enumerate(assets)]
    assert table.column("asset").to_pylist() == expect_asset
    expect_note = [f"n{i}" if i % 7 == 0 else None for i in range(n)]
    assert table.column("note").to_pylist() == expect_note
    assert table.column("time").cast(pa.int64()).to_pylist() == list(range(n))


def test_wide_lines_and_many_measurements():
    # more keys per line than the parser's per-position caches, many tables
    lines = [
        f"m{i % 40},"
        + ",".join(f"t{k}=v{(i + k) % 5}" for k in range(20))
        + " "
        + ",".join(f"f{k}={i * k}i" for k in range(50))
        for i in range(400)
    ]
    out = parse_lines("\n".join(lines), now=NOW)
    assert len(out.tables) == 40 and out.lines == 400
    table = out.tables["m3"]
    assert table.num_rows == 10
    assert table.column("f49").to_pylist() == [i * 49 for i in range(3, 400, 40)]
    assert table.column("t19").to_pylist() == [
        f"v{(i + 19) % 5}" for i in range(3, 400, 40)
    ]


def test_a_long_string_value():
    text = "x" * 3_000_000
    table = parse_lines(f'm s="{text}",n=1i'.encode(), now=NOW).tables["m"]
    assert table.column("s").to_pylist() == [text]


@pytest.mark.parametrize("on_error", ["raise", "skip"])
def test_many_distinct_keys_hit_the_cell_budget_not_the_memory(on_error):
    # 200 000 lines, each with a new key, would be a 200 000 x 200 000 table (320 GB)
    payload = "".join(f"m k{i}=1i\n" for i in range(200_000)).encode()
    with pytest.raises(BudgetError, match="more than 16,777,216 cells") as info:
        parse_lines(payload, now=NOW, on_error=on_error)
    assert info.value.line == 4097  # the first line past 4096 x 4096 cells


def test_sparse_but_reasonable_tables_pass():
    payload = "".join(f"m,t=a k{i % 40}={i}i\n" for i in range(100_000)).encode()
    table = parse_lines(payload, now=NOW).tables["m"]
    assert table.num_columns == 42
    assert table.column("k39").null_count == 100_000 - 2500

"""Line protocol parser: one table-driven case per syntax rule, with exact points.

Every case states the points it must produce (measurement, tags, typed fields, time
in ns) or the error; ``points()`` reads them back out of the Arrow tables.
"""

from __future__ import annotations

import pyarrow as pa
import pytest

from tsengine.errors import ParseError
from tsengine.ingest.lineprotocol import parse_lines, tag_columns

NOW = 1_700_000_000_123_456_789
_TYPE = {
    pa.float64(): "f",
    pa.int64(): "i",
    pa.uint64(): "u",
    pa.bool_(): "b",
    pa.string(): "s",
}


def points(payload, **kw) -> list[tuple]:
    """(measurement, tags, fields, time) per stored point; fields are (type, value)."""
    out = parse_lines(payload, now=kw.pop("now", NOW), **kw)
    result = []
    for name, table in out.tables.items():
        assert table.schema.field("time").type == pa.timestamp("ns", tz="UTC")
        tags = tag_columns(table)
        times = table.column("time").cast(pa.int64()).to_pylist()
        for time, row in zip(times, table.to_pylist(), strict=True):
            tag_set = {k: row[k] for k in tags if row[k] is not None}
            fields = {
                f.name: (_TYPE[f.type], row[f.name])
                for f in table.schema
                if f.name != "time" and f.name not in tags and row[f.name] is not None
            }
            result.append((name, tag_set, fields, time))
    assert out.lines == len(result)
    return result


def one(payload, **kw) -> tuple:
    (point,) = points(payload, **kw)
    return point


def error(payload, **kw) -> ParseError:
    with pytest.raises(ParseError) as info:
        parse_lines(payload, now=NOW, **kw)
    return info.value


# -- escaping: each position has its own escapable bytes -----------------------------

ESCAPES = [
    (rb"my\ meas\,x f=1", ("my meas,x", {}, {"f": ("f", 1.0)})),
    (rb"a=b f=1", ("a=b", {}, {"f": ("f", 1.0)})),
    (rb"a\=b f=1", ("a\\=b", {}, {"f": ("f", 1.0)})),
    (rb"m,t\ k\,x\=y=v f=1", ("m", {"t k,x=y": "v"}, {"f": ("f", 1.0)})),
    (rb"m,t=v\ 1\,2\=3 f=1", ("m", {"t": "v 1,2=3"}, {"f": ("f", 1.0)})),
    (rb"m,t=a\b f=1", ("m", {"t": "a\\b"}, {"f": ("f", 1.0)})),
    (rb'm,t="q" f=1', ("m", {"t": '"q"'}, {"f": ("f", 1.0)})),
    (rb"m f\ k\,\=x=1", ("m", {}, {"f k,=x": ("f", 1.0)})),
    (rb'm s="a \"q\" b\\c"', ("m", {}, {"s": ("s", 'a "q" b\\c')})),
    (rb'm s="a\nb\,c"', ("m", {}, {"s": ("s", "a\\nb\\,c")})),
    (rb'm s="a\\"', ("m", {}, {"s": ("s", "a\\")})),
    (rb'm s="a, b=c d"', ("m", {}, {"s": ("s", "a, b=c d")})),
    (rb'm s=""', ("m", {}, {"s": ("s", "")})),
    ('m,lieu=Zürich s="é"'.encode(), ("m", {"lieu": "Zürich"}, {"s": ("s", "é")})),
]


@pytest.mark.parametrize("line,expected", ESCAPES)
def test_escaping(line, expected):
    assert one(line) == (*expected, NOW)


def test_backslash_is_no_escape_of_itself_in_names():
    # a\b\\ x: "\b" is kept as is, so is the first "\" of "\\", and the second
    # escapes the space; without the "x" the fields end up inside the name
    with pytest.raises(ParseError, match="no field set"):
        parse_lines(rb"a\b\\ f=1")
    assert one(rb"a\b\\ x f=1") == ("a\\b\\ x", {}, {"f": ("f", 1.0)}, NOW)


def test_string_value_spans_lines_and_counts_them():
    payload = b'm s="one\ntwo" 5\nm s="x" 6\nm s=bad 7\n'
    err = error(payload)
    assert (err.line, err.column) == (4, 5)
    out = parse_lines(payload, on_error="skip", now=NOW)
    assert out.tables["m"].column("s").to_pylist() == ["one\ntwo", "x"]
    assert [r.line for r in out.rejected] == [4]


# -- field values ----------------------------------------------------------------------


def test_integers_at_the_int64_bounds():
    line = b"m a=-9223372036854775808i,b=9223372036854775807i,c=0i,d=-0i,e=007i"
    assert one(line)[2] == {
        "a": ("i", -(2**63)),
        "b": ("i", 2**63 - 1),
        "c": ("i", 0),
        "d": ("i", 0),
        "e": ("i", 7),
    }


def test_unsigned_at_the_uint64_bounds():
    assert one(b"m a=18446744073709551615u,b=0u,c=00012u")[2] == {
        "a": ("u", 2**64 - 1),
        "b": ("u", 0),
        "c": ("u", 12),
    }


FLOATS = [
    "1",
    "-1.5",
    ".5",
    "1.",
    "-.25",
    "1e3",
    "1E-3",
    "-1.5e+10",
    "0.1",
    "1.7976931348623157e308",
    "5e-324",
    "2.2250738585072014e-308",
    "123456789012345678901234567890",
    "0.30000000000000004",
    "9007199254740993",
    "1e22",
    "1e23",
    "4.9406564584124654e-324",
    "1e-400",
    "0e999",
    "000123.456000",
]


@pytest.mark.parametrize("text", FLOATS)
def test_floats_are_correctly_rounded(text):
    (_, _, fields, _) = one(f"m f={text}".encode())
    assert fields["f"][0] == "f"
    assert fields["f"][1] == float(text)
    assert str(fields["f"][1]) == str(float(text))


def test_negative_zero_keeps_its_sign():
    value = one(b"m f=-0.0")[2]["f"][1]
    assert value == 0.0 and str(value) == "-0.0"


BOOLS_TRUE = ["t", "T", "true", "True", "TRUE"]
BOOLS_FALSE = ["f", "F", "false", "False", "FALSE"]


@pytest.mark.parametrize("text", BOOLS_TRUE + BOOLS_FALSE)
def test_every_boolean_spelling(text):
    assert one(f"m b={text}".encode())[2] == {"b": ("b", text in BOOLS_TRUE)}


BAD_VALUES = [
    ("9223372036854775808i", "outside the int64 range"),
    ("-9223372036854775809i", "outside the int64 range"),
    ("99999999999999999999999i", "outside the int64 range"),
    ("1.5i", "not a valid integer"),
    ("-i", "not a valid integer"),
    ("18446744073709551616u", "outside the uint64 range"),
    ("-1u", "not a valid unsigned integer"),
    ("1.0u", "not a valid unsigned integer"),
    ("1e309", "outside the float64 range"),
    ("-1e309", "outside the float64 range"),
    ("1.2.3", "not a valid float"),
    ("1e", "not a valid float"),
    ("1e+", "not a valid float"),
    (".e1", "not a valid float"),
    ("-", "not a valid float"),
    ("0x10", "not a valid float"),
    ("1_000", "not a valid float"),
    ("1i5", "not a valid float"),
    ("+1", "starts with '+'"),
    ("NaN", "starts with 'N'"),
    ("inf", "starts with 'i'"),
    ("-Inf", "not a valid float"),
    ("tRUE", "not a boolean"),
    ("truee", "not a boolean"),
    ("tru", "not a boolean"),
    ("Fal", "not a boolean"),
    ("yes", "starts with 'y'"),
    ("'s'", 'starts with "\'"'),
    ("1\t2", "not a valid float"),
]


@pytest.mark.parametrize("text,reason", BAD_VALUES)
def test_malformed_values_are_rejected(text, reason):
    err = error(f"m,t=a f={text} 1".encode())
    assert reason in err.reason
    assert (err.line, err.column) == (1, 9)
    assert err.text == f"m,t=a f={text} 1"


# -- timestamps and precision ---------------------------------------------------------

PRECISION_NS = {"ns": 1, "us": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9}
PRECISION_NS["h"] = 3600 * 10**9


@pytest.mark.parametrize("precision", list(PRECISION_NS))
def test_precision_scales_timestamps_and_floors_now(precision):
    unit = PRECISION_NS[precision]
    got = points(b"m f=1 -3\nm f=2 17\nm f=3", precision=precision)
    assert [p[3] for p in got] == [-3 * unit, 17 * unit, NOW // unit * unit]
    before_1970 = -NOW
    got = points(b"m f=3", precision=precision, now=before_1970)
    assert got[0][3] == before_1970 // unit * unit <= before_1970


def test_one_now_per_request():
    got = points(b"m f=1\nm f=2\n" * 1000, now=None)
    assert len({p[3] for p in got}) == 1


@pytest.mark.parametrize(
    "stamp,precision,ok",
    [
        ("9223372036854775807", "ns", True),
        ("-9223372036854775808", "ns", True),
        ("9223372036854775808", "ns", False),
        ("-9223372036854775809", "ns", False),
        ("000000000000000000000042", "ns", True),
        ("9223372036854775", "us", True),
        ("9223372036854776", "us", False),
        ("9223372036", "s", True),
        ("9223372037", "s", False),
        ("-9223372036", "s", True),
        ("-9223372037", "s", False),
        ("2562047", "h", True),
        ("2562048", "h", False),
    ],
)
def test_timestamp_range_at_each_precision(stamp, precision, ok):
    line = f"m f=1 {stamp}".encode()
    if ok:
        expected = int(stamp) * PRECISION_NS[precision]
        assert one(line, precision=precision)[3] == expected
    else:
        err = error(line, precision=precision)
        assert "outside the int64 nanosecond range" in err.reason
        assert stamp in err.reason and err.column == 7


@pytest.mark.parametrize("stamp", ["1.5", "12a", "+5", "1-2", "--1", "-", "0x1", "1e9"])
def test_malformed_timestamps(stamp):
    err = error(f"m f=1 {stamp}".encode())
    assert "timestamp" in err.reason and err.column == 7


def test_text_after_timestamp():
    err = error(b"m f=1 5 6")
    assert "after the timestamp" in err.reason and err.column == 9

"""Line protocol parser properties (hypothesis): points written with a small
independent encoder come back exactly, and no input, however mangled, crashes it."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tsengine.errors import Error
from tsengine.ingest.lineprotocol import parse_lines, tag_columns

NOW = 1_600_000_000_000_000_000
_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

# names: printable text without control bytes; a trailing backslash would escape the
# separator after it, which the format cannot express
_printable = st.characters(blacklist_categories=("Cc", "Cs"))
_name = st.text(_printable, min_size=1, max_size=8).filter(
    lambda s: not s.endswith("\\") and s != "time"
)
_measurement = _name.filter(lambda s: not s.startswith("#"))
_tag_value = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"),
    min_size=1,
    max_size=8,
).filter(lambda s: not s.endswith("\\"))

_VALUES = {
    "float": st.floats(allow_nan=False, allow_infinity=False),
    "int": st.integers(-(2**63), 2**63 - 1),
    "uint": st.integers(0, 2**64 - 1),
    "bool": st.booleans(),
    "string": st.text(st.characters(blacklist_categories=("Cs",)), max_size=10),
}
_ARROW = {
    "float": pa.float64(),
    "int": pa.int64(),
    "uint": pa.uint64(),
    "bool": pa.bool_(),
    "string": pa.string(),
}


def _escape(text: str, chars: str) -> str:
    for c in chars:
        text = text.replace(c, "\\" + c)
    return text


def _encode_value(kind: str, value) -> str:
    if kind == "float":
        return repr(value)
    if kind == "int":
        return f"{value}i"
    if kind == "uint":
        return f"{value}u"
    if kind == "bool":
        return "true" if value else "F"
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def encode(measurement: str, tags: dict, fields: dict, time: int | None) -> str:
    """One line, escaping each part by its own rules."""
    head = _escape(measurement, ", ") + "".join(
        f",{_escape(k, ',= ')}={_escape(v, ',= ')}" for k, v in tags.items()
    )
    body = ",".join(
        f"{_escape(k, ',= ')}={_encode_value(kind, v)}"
        for k, (kind, v) in fields.items()
    )
    return f"{head} {body}" + ("" if time is None else f" {time}")


@st.composite
def requests(draw):
    """Points of a few measurements, each with one consistent schema."""
    points = []
    for measurement in draw(
        st.lists(_measurement, min_size=1, max_size=3, unique=True)
    ):
        keys = draw(st.lists(_name, min_size=1, max_size=6, unique=True))
        n_tags = draw(st.integers(0, len(keys) - 1))
        tag_keys, field_keys = keys[:n_tags], keys[n_tags:]
        kinds = {k: draw(st.sampled_from(sorted(_VALUES))) for k in field_keys}
        for _ in range(draw(st.integers(1, 5))):
            tags = {k: draw(_tag_value) for k in tag_keys if draw(st.booleans())}
            present = [k for k in field_keys if draw(st.booleans())] or field_keys[:1]
            fields = {k: (kinds[k], draw(_VALUES[kinds[k]])) for k in present}
            time = draw(st.none() | st.integers(-(2**63), 2**63 - 1))
            points.append((measurement, tags, fields, time))
    return points


def decoded(tables: dict[str, pa.Table]) -> list[tuple]:
    out = []
    for name, table in tables.items():
        tags = tag_columns(table)
        times = table.column("time").cast(pa.int64()).to_pylist()
        for time, row in zip(times, table.to_pylist(), strict=True):
            fields = {
                f.name: (f.type, row[f.name])
                for f in table.schema
                if f.name != "time" and f.name not in tags and row[f.name] is not None
            }
            tag_set = {k: row[k] for k in tags if row[k] is not None}
            out.append((name, tag_set, fields, time))
    return out


@_SETTINGS
@given(requests(), st.sampled_from(["\n", "\r\n"]))
def test_encoded_points_come_back_exactly(points, newline):
    payload = newline.join(encode(*p) for p in points) + newline
    out = parse_lines(payload.encode("utf-8"), now=NOW)
    assert out.lines == len(points) and out.rejected == []

    # parse_lines keeps line order within a measurement; compare per measurement
    want = [
        (m, tags, {k: (_ARROW[kind], v) for k, (kind, v) in fields.items()}, t)
        for m, tags, fields, t in points
    ]
    want = sorted(
        ((m, tags, fields, NOW if t is None else t) for m, tags, fields, t in want),
        key=lambda p: list(out.tables).index(p[0]),
    )
    assert decoded(out.tables) == want


_ALPHABET = b'm,= "\\\n\r\t#-.0123456789iuetTfF\xc3\xa9\xff'


@_SETTINGS
@given(st.lists(st.sampled_from([bytes([b]) for b in _ALPHABET]), max_size=60))
def test_mangled_input_never_crashes(chunks):
    payload = b"".join(chunks)
    try:
        strict = parse_lines(payload, now=NOW)
    except Error:
        strict = None
    lenient = parse_lines(payload, now=NOW, on_error="skip")

    # raise-mode succeeds exactly when skip-mode rejects nothing, with equal tables
    assert (strict is None) == bool(lenient.rejected)
    if strict is not None:
        assert decoded(strict.tables) == decoded(lenient.tables)
    for rejected in lenient.rejected:
        assert rejected.line >= 1 and rejected.column >= 1 and rejected.reason

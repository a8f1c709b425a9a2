"""Turn the line protocol parser's error records into messages and exceptions.

The Cython parser records each bad line as numbers only (an error code and byte
offsets into the payload); this module quotes the offending bytes and words the reason.
The codes mirror the ``ER_*`` enum in ``ext/_lp_line.pxi``.
"""

from __future__ import annotations

from tsengine.errors import BudgetError, ParseError, SchemaError

_KINDS = {0: "a tag", 1: "float64", 2: "int64", 3: "uint64", 4: "bool", 5: "string"}
_UTF8_WHAT = {
    0: "measurement name",
    1: "tag key",
    2: "tag value",
    3: "field key",
    4: "string value",
}
_BOOLS = "t, T, true, True, TRUE, f, F, false, False, FALSE"
_MAX_TEXT = 200
ER_CONFLICT = 25
ER_TOO_BIG = 28

# reason templates by code; {c} the byte at the error, {k} the key, {t} the token
_REASONS = {
    1: "expected a measurement name, found {c}",
    2: "comment contains the control character {c}",
    3: "expected a tag key after ',', found {c}",
    4: "expected '=' after tag key {k!r}, found {c}",
    5: "tag {k!r} has an empty value",
    6: "expected ',' or ' ' after the value of tag {k!r}, found {c}",
    7: "line has no field set (expected ' key=value' after the measurement and tags), "
    "found {c}",
    8: "expected a field key, found {c}",
    9: "expected '=' after field key {k!r}, found {c}",
    10: "value of field {k!r} starts with {c}; expected a number, a boolean or a "
    "double-quoted string",
    11: "string value of field {k!r} has no closing quote",
    12: "value {t!r} of field {k!r} is not a valid integer (digits, optional '-', "
    "then 'i')",
    13: "integer {t!r} of field {k!r} is outside the int64 range "
    "[-9223372036854775808, 9223372036854775807]",
    14: "value {t!r} of field {k!r} is not a valid unsigned integer (digits, then 'u')",
    15: "unsigned integer {t!r} of field {k!r} is outside the uint64 range "
    "[0, 18446744073709551615]",
    16: "value {t!r} of field {k!r} is not a valid float",
    17: "float {t!r} of field {k!r} is outside the float64 range",
    18: "value {t!r} of field {k!r} is not a boolean; expected one of " + _BOOLS,
    19: "expected ',', ' ' or the end of the line after the value of field {k!r}, "
    "found {c}",
    20: "timestamp {t!r} is not an integer",
    21: "timestamp {t!r} at precision {p!r} is outside the int64 nanosecond range "
    "(1677-09-21 to 2262-04-11 UTC)",
    22: "unexpected text {t!r} after the timestamp",
    23: "{w} {t!r} is not valid UTF-8",
    24: "key {k!r} appears more than once in the line",
    26: "key {k!r} is reserved: it names the time column",
    27: "expected ',' or ' ' after the measurement name, found {c}",
    28: "the tables would hold more than {m:,} cells (rows x columns) from this "
    "payload: too many distinct keys for its size; send fewer keys per request",
}


def _text(data: bytes, start: int, stop: int) -> str:
    return bytes(data[start:stop]).decode("utf-8", "backslashreplace")


def _char(data: bytes, pos: int) -> str:
    if pos >= len(data):
        return "the end of the input"
    byte = data[pos]
    if byte < 0x80:
        return repr(chr(byte))
    return f"byte 0x{byte:02x}"


def _line_text(data: bytes, line_start: int) -> str:
    stop = data.find(b"\n", line_start)
    stop = len(data) if stop < 0 else stop
    text = _text(data, line_start, stop).removesuffix("\r")
    return text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT] + "..."


def _conflict_reason(parser, data: bytes, err: tuple) -> str:
    _, line, _, _, _, _, key0, key1, col, kind = err
    measurement, key, old, first_line = parser.column_info(col)
    measurement = measurement.decode("utf-8")
    key = key.decode("utf-8")
    if old == 0 or kind == 0:
        what = "a tag" if kind == 0 else "a field"
        return (
            f"key {key!r} of measurement {measurement!r} is {what} on line {line} "
            f"but {_KINDS[old] if old == 0 else 'a field'} since line {first_line}"
        )
    return (
        f"field {key!r} of measurement {measurement!r} is {_KINDS[kind]} on line "
        f"{line} but {_KINDS[old]} since line {first_line}"
    )


def describe(
    parser, data: bytes, err: tuple, precision: str, max_cells: int = 0
) -> dict:
    """``line``, ``column``, ``reason`` and ``text`` of one error record."""
    code, line, line_start, pos, tok0, tok1, key0, key1, aux, _ = err
    if code == ER_CONFLICT:
        reason = _conflict_reason(parser, data, err)
    else:
        reason = _REASONS[code].format(
            c=_char(data, pos),
            k=_text(data, key0, key1),
            t=_text(data, tok0, tok1),
            p=precision,
            w=_UTF8_WHAT.get(aux, "token"),
            m=max_cells,
        )
    return {
        "line": line,
        "column": pos - line_start + 1,
        "reason": reason,
        "text": _line_text(data, line_start),
    }


def to_exception(
    parser, data: bytes, err: tuple, precision: str, max_cells: int = 0
) -> Exception:
    """The exception for a bad line: SchemaError for conflicts, BudgetError when the
    tables would be too large, else ParseError; all carry ``line``, ``column``,
    ``reason`` and ``text``."""
    info = describe(parser, data, err, precision, max_cells)
    cls = {ER_CONFLICT: SchemaError, ER_TOO_BIG: BudgetError}.get(err[0], ParseError)
    exc = cls(
        f"line {info['line']}, column {info['column']}: {info['reason']}: "
        f"{info['text']!r}"
    )
    for name, value in info.items():
        setattr(exc, name, value)
    return exc

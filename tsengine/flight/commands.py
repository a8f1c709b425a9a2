"""JSON commands of the Flight endpoint: decoding, limits and argument checks.

A command is a UTF-8 JSON object with a ``kind`` and the keyword arguments of the
matching :class:`~tsengine.Engine` method::

    {"kind": "read", "table": "pump", "start": "-15m", "where": {"asset": "P-101"}}
    {"kind": "latest", "table": "pump", "n": 1, "fields": ["vibration"]}
    {"kind": "aggregate", "table": "pump", "every": "1s", "aggs": {"speed": ["max"]}}
    {"kind": "catalog"}

The same bytes serve as a GetFlightInfo command descriptor and as a DoGet ticket.
DoExchange takes ``{"kind": "subscribe", "table": ...}`` and a DoPut command
descriptor ``{"kind": "write", "table": ..., "tags": [...]}``. Checks here are about
shape (types, sizes, names); the engine checks meaning (a field exists, a window is
valid). Every failure is a :class:`~tsengine.flight.errors.RequestError` naming the
key and the bad value.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tsengine.flight.errors import RequestError
from tsengine.timeconv import INT64_MAX, INT64_MIN, to_ns

#: Largest command, ticket or action body accepted, in bytes.
MAX_REQUEST_BYTES = 1 << 20
#: Largest ``n`` of a ``latest`` command, in points per series.
MAX_LATEST_N = 1_000_000
#: Most values in one ``where`` list or ``fields`` list.
MAX_LIST = 100_000

QUERY_KINDS = ("read", "latest", "aggregate", "catalog")


@dataclass(frozen=True)
class Command:
    """A decoded, shape-checked command.

    Attributes
    ----------
    kind : str
        ``"read"``, ``"latest"``, ``"aggregate"``, ``"catalog"``, ``"subscribe"`` or
        ``"write"``.
    table : str or None
        The table or rollup the command names (None for ``catalog``).
    args : dict
        Remaining keyword arguments for the engine method, as sent.
    """

    kind: str
    table: str | None = None
    args: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> bytes:
        """Compact JSON bytes: usable as a ticket or descriptor command.

        Keys keep their order: the order of ``aggs`` decides the result's columns.
        """
        body: dict[str, Any] = {"kind": self.kind}
        if self.table is not None:
            body["table"] = self.table
        body.update(self.args)
        return json.dumps(body, separators=(",", ":")).encode()


def decode(raw: bytes | memoryview, what: str, limit: int = MAX_REQUEST_BYTES) -> dict:
    """Decode a JSON object of at most ``limit`` bytes; ``what`` names it in errors."""
    size = len(raw)
    if size > limit:
        raise RequestError(f"{what} is {size} bytes, over the limit of {limit} bytes")
    if size == 0:
        raise RequestError(f"{what} is empty; expected a JSON object")
    try:
        value = json.loads(bytes(raw).decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise RequestError(
            f"{what} is not UTF-8: {exc.reason} at byte {exc.start}"
        ) from None
    except json.JSONDecodeError as exc:
        raise RequestError(
            f"{what} is not valid JSON: {exc.msg} at line {exc.lineno} column "
            f"{exc.colno}"
        ) from None
    except RecursionError:
        raise RequestError(f"{what} nests JSON too deeply") from None
    except ValueError:  # Python's limit on the digits of an int
        raise RequestError(
            f"{what} holds an integer of more than {sys.get_int_max_str_digits()} "
            "digits; no argument takes one that long"
        ) from None
    if not isinstance(value, dict):
        raise RequestError(
            f"{what} must be a JSON object, not {type(value).__name__} {_short(value)}"
        )
    return value


# -- argument checks -------------------------------------------------------------


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _bad(key: str, value: Any, expected: str) -> RequestError:
    return RequestError(f"{key}={_short(value)} must be {expected}")


def _name(key: str, value: Any) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 256:
        raise _bad(key, value, "a string of 1 to 256 characters")
    return value


def _time(key: str, value: Any) -> Any:
    # ints are ns; strings are ISO 8601 or relative ("-15m"); a float is ambiguous
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _bad(key, value, "int ns since the epoch or a time string")
    if isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
        raise _bad(key, value, "within the int64 nanosecond range")
    if isinstance(value, str) and len(value) > 64:
        raise _bad(key, value, "a time string of at most 64 characters")
    to_ns(value)  # raises TimestampError naming a malformed or out-of-range time
    return value


def _tag_value(key: str, value: Any) -> None:
    if value is not None and not isinstance(value, str):
        raise _bad(key, value, "a tag value (string or null)")


def _where(key: str, value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _bad(key, value, "an object of tag name to value or list of values")
    for tag, wanted in value.items():
        if isinstance(wanted, list):
            if len(wanted) > MAX_LIST:
                raise _bad(f"{key}[{tag!r}]", wanted, f"at most {MAX_LIST} values")
            for item in wanted:
                _tag_value(f"{key}[{tag!r}]", item)
        else:
            _tag_value(f"{key}[{tag!r}]", wanted)
    return value


def _names(key: str, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or len(value) > MAX_LIST:
        raise _bad(key, value, f"a list of at most {MAX_LIST} names")
    for item in value:
        _name(key, item)
    return value


def _n(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(key, value, "a positive integer")
    if not 1 <= value <= MAX_LATEST_N:
        raise _bad(key, value, f"between 1 and {MAX_LATEST_N}")
    return value


def _unit(key: str, value: Any) -> str:
    if value not in ("ns", "us", "ms", "s"):
        raise _bad(key, value, "one of 'ns', 'us', 'ms', 's'")
    return value


def _any(key: str, value: Any) -> Any:
    # aggregate options are checked by the engine, which names the bad value itself
    return value


Check = Callable[[str, Any], Any]
_RANGE: dict[str, Check] = {
    "start": _time,
    "end": _time,
    "where": _where,
    "fields": _names,
}
_SPECS: dict[str, dict[str, Check]] = {
    "read": _RANGE,
    "latest": {"where": _where, "fields": _names, "n": _n},
    "aggregate": {**_RANGE, "by": _names},
    "catalog": {},
    "subscribe": {"where": _where, "fields": _names},
    "write": {"tags": _names, "unit": _unit},
}


def parse(
    raw: bytes | memoryview | dict,
    what: str = "command",
    kinds: tuple[str, ...] = QUERY_KINDS,
) -> Command:
    """Decode and check one command.

    Parameters
    ----------
    raw : bytes or dict
        The JSON bytes (or an already decoded object).
    what : str
        How errors name the request (``"ticket"``, ``"command"``, ...).
    kinds : tuple of str
        Kinds accepted at this endpoint.

    Raises
    ------
    RequestError
        Malformed JSON, an unknown kind or key, or an argument of the wrong type.
    TimestampError
        ``start``/``end`` is malformed or outside the int64 nanosecond range.

    Examples
    --------
    >>> parse(b'{"kind": "latest", "table": "pump", "n": 2}')
    Command(kind='latest', table='pump', args={'n': 2})
    """
    body = dict(raw) if isinstance(raw, dict) else decode(raw, what)
    kind = body.pop("kind", None)
    if kind not in kinds:
        raise RequestError(f"{what} kind {_short(kind)} must be one of {list(kinds)}")
    table = None
    if kind != "catalog":
        if "table" not in body:
            raise RequestError(f"{what} {kind!r} needs a 'table'")
        table = _name("table", body.pop("table"))
    spec = _SPECS[kind]
    if kind != "aggregate":
        unknown = sorted(set(body) - set(spec))
        if unknown:
            raise RequestError(
                f"{what} {kind!r} got unknown argument(s) {unknown!r}; "
                f"accepted: {sorted(spec)!r}"
            )
    args = {key: spec.get(key, _any)(key, value) for key, value in body.items()}
    return Command(kind, table, args)

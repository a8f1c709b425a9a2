"""Bad requests of every kind: the right Flight status, a clear message, and a server
that answers the next good request."""

from __future__ import annotations

import json
import re

import numpy as np
import pyarrow as pa
import pyarrow.flight as flight
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tsengine
from tsengine.flight import RequestError
from tsengine.flight.commands import MAX_REQUEST_BYTES, parse
from tsengine.flight.errors import from_flight, to_flight

#: Classes a refused request's message may start with.
CLASSES = set(tsengine.__all__) | set(tsengine.flight.__all__)


@pytest.fixture(scope="module")
def served():
    engine = tsengine.Engine()
    engine.write(
        "pump",
        {"time": np.arange(100), "asset": ["A", "B"] * 50, "v": np.arange(100.0)},
    )
    server = tsengine.serve(engine, "grpc://127.0.0.1:0", max_put_batch_bytes=10_000)
    client = flight.connect(f"grpc://127.0.0.1:{server.port}")
    yield engine, server, client
    client.close()
    server.shutdown()
    engine.close()


def _get(client, ticket: bytes | dict):
    raw = ticket if isinstance(ticket, bytes) else json.dumps(ticket).encode()
    return client.do_get(flight.Ticket(raw)).read_all()


def _action(client, name: str, body: bytes):
    return list(client.do_action(flight.Action(name, body)))


def _good(client) -> None:
    got = _get(client, {"kind": "latest", "table": "pump", "where": {"asset": "A"}})
    assert got.column("v").to_pylist() == [98.0]


def _message(error: BaseException, cls: type) -> str:
    """The part of a raw client's error that tsengine wrote, once checked.

    ``error`` is exactly the status's class; the message starts with a tsengine
    class; pyarrow's appended traceback holds only its own callback frame and the
    handler boundary (test_flight_raw_errors.py checks that exactly).
    """
    text = str(error)
    assert type(error) is cls, (type(error), text)
    message = text.split(". Detail: ", 1)[0]
    assert message.split(": ", 1)[0] in CLASSES, text
    for path in re.findall(r'File "([^"]+)"', text):
        assert path in ("pyarrow/_flight.pyx", tsengine.flight.errors.__file__), text
    return message


def _deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


BAD_TICKETS = [
    # (ticket, expected exception, message fragment)
    (b"{", pa.ArrowInvalid, "not valid JSON"),
    (b"", pa.ArrowInvalid, "empty"),
    (b"\xff\xfe{}", pa.ArrowInvalid, "not UTF-8"),
    (b"[1, 2]", pa.ArrowInvalid, "must be a JSON object"),
    (_deep(100_000), pa.ArrowInvalid, "JSON"),
    (b" " * (MAX_REQUEST_BYTES + 1), pa.ArrowInvalid, "over the limit"),
    ({"kind": "drop", "table": "pump"}, pa.ArrowInvalid, "kind 'drop' must be one of"),
    ({"table": "pump"}, pa.ArrowInvalid, "kind None"),
    ({"kind": "read"}, pa.ArrowInvalid, "needs a 'table'"),
    ({"kind": "read", "table": 5}, pa.ArrowInvalid, "table=5 must be a string"),
    (
        {"kind": "read", "table": "nope"},
        pa.ArrowKeyError,
        "table 'nope' does not exist",
    ),
    ({"kind": "latest", "table": "nope"}, pa.ArrowKeyError, "'nope'"),
    ({"kind": "read", "table": "pump", "start": 1.5}, pa.ArrowInvalid, "start=1.5"),
    ({"kind": "read", "table": "pump", "start": 2**63}, pa.ArrowInvalid, "int64"),
    (
        {"kind": "read", "table": "pump", "end": "9999-01-01T00:00:00Z"},
        pa.ArrowInvalid,
        "9999-01-01T00:00:00Z",
    ),
    (
        {"kind": "read", "table": "pump", "start": "yesterday"},
        pa.ArrowInvalid,
        "yesterday",
    ),
    ({"kind": "read", "table": "pump", "where": ["A"]}, pa.ArrowInvalid, "where=['A']"),
    (
        {"kind": "read", "table": "pump", "where": {"asset": 1}},
        pa.ArrowInvalid,
        "asset",
    ),
    (
        {"kind": "read", "table": "pump", "where": {"site": "A"}},
        pa.ArrowInvalid,
        "'site'",
    ),
    ({"kind": "read", "table": "pump", "fields": ["nope"]}, pa.ArrowInvalid, "'nope'"),
    ({"kind": "read", "table": "pump", "fields": 3}, pa.ArrowInvalid, "fields=3"),
    ({"kind": "read", "table": "pump", "limit": 3}, pa.ArrowInvalid, "['limit']"),
    ({"kind": "latest", "table": "pump", "n": "3"}, pa.ArrowInvalid, "n='3'"),
    ({"kind": "latest", "table": "pump", "n": True}, pa.ArrowInvalid, "n=True"),
    ({"kind": "latest", "table": "pump", "n": 10**9}, pa.ArrowInvalid, "between 1"),
    ({"kind": "catalog", "table": "pump"}, pa.ArrowInvalid, "['table']"),
    (
        {"kind": "aggregate", "table": "pump", "every": "1s", "aggs": {"v": ["nope"]}},
        pa.ArrowInvalid,
        "unknown aggregate 'nope'",
    ),
    (
        {
            "kind": "aggregate",
            "table": "pump",
            "every": "1s",
            "aggs": {"v": ["max"]},
            "fields": ["v"],
        },
        pa.ArrowInvalid,
        "unknown argument(s) ['fields']",
    ),
    (
        {"kind": "aggregate", "table": "pump", "every": "1s"},
        pa.ArrowInvalid,
        "aggs=None",
    ),
    (
        {
            "kind": "aggregate",
            "table": "pump",
            "every": "1s",
            "aggs": {"v": ["max"]},
            "by": 7,
        },
        pa.ArrowInvalid,
        "by=7",
    ),
    (
        # 1 ns windows over a century: refused by the engine's window budget
        {
            "kind": "aggregate",
            "table": "pump",
            "every": 1,
            "aggs": {"v": ["max"]},
            "start": 0,
            "end": "2000-01-01T00:00:00Z",
            "fill": 0,
        },
        pa.ArrowInvalid,
        "BudgetError",
    ),
    (
        {"kind": "aggregate", "table": "nope", "every": "1s", "aggs": {"v": ["max"]}},
        pa.ArrowKeyError,
        "'nope'",
    ),
]


@pytest.mark.parametrize(("ticket", "error", "fragment"), BAD_TICKETS)
def test_bad_ticket_then_good_request(served, ticket, error, fragment):
    _, server, client = served
    with pytest.raises(error) as info:
        _get(client, ticket)
    assert fragment in _message(info.value, error)
    _good(client)


def test_bad_descriptors(served):
    _, _, client = served
    bad = flight.FlightDescriptor.for_command(b"{nope")
    nope = flight.FlightDescriptor.for_path("nope")
    two = flight.FlightDescriptor.for_path("a", "b")
    for call in (client.get_flight_info, client.get_schema):
        with pytest.raises(pa.ArrowInvalid) as info:
            call(bad)
        assert "not valid JSON" in _message(info.value, pa.ArrowInvalid)
        with pytest.raises(pa.ArrowKeyError) as info:
            call(nope)
        assert "'nope'" in _message(info.value, pa.ArrowKeyError)
        with pytest.raises(pa.ArrowInvalid) as info:
            call(two)
        assert "exactly one table" in _message(info.value, pa.ArrowInvalid)
    _good(client)


@pytest.mark.parametrize(
    ("name", "body", "error", "fragment"),
    [
        ("reboot", b"", pa.ArrowInvalid, "unknown action 'reboot'"),
        ("create_table", b"{", pa.ArrowInvalid, "create_table body is not valid JSON"),
        ("create_table", b"", pa.ArrowInvalid, "empty"),
        ("create_table", b'{"name": 3}', pa.ArrowInvalid, "string 'name'"),
        ("create_table", b'{"name": "pump"}', pa.ArrowInvalid, "already exists"),
        (
            "create_table",
            b'{"name": "t", "fields": {"x": "float128"}}',
            pa.ArrowInvalid,
            "float128",
        ),
        ("create_table", b'{"name": "t", "fields": []}', pa.ArrowInvalid, "fields=[]"),
        (
            "create_table",
            b'{"name": "t", "color": "red"}',
            pa.ArrowInvalid,
            "['color']",
        ),
        ("create_table", b'{"name": "t", "ring_capacity": -1}', pa.ArrowInvalid, "-1"),
        ("drop", b'{"name": 1}', pa.ArrowInvalid, "string 'name'"),
        ("stats", b"x" * (MAX_REQUEST_BYTES + 10), None, None),  # body ignored
    ],
)
def test_bad_actions_then_good_request(served, name, body, error, fragment):
    _, _, client = served
    if error is None:
        assert len(_action(client, name, body)) == 1
    else:
        with pytest.raises(error) as info:
            _action(client, name, body)
        assert fragment in _message(info.value, error)
    _good(client)


def test_oversized_put_batch_refused(served):
    engine, _, client = served
    n = 1000  # 1000 rows x (8 + 8 + 8) bytes: over the 10 kB limit of this server
    data = pa.table(
        {"time": np.arange(10**6, 10**6 + n), "asset": ["C"] * n, "v": np.zeros(n)}
    )
    writer, _ = client.do_put(flight.FlightDescriptor.for_path("pump"), data.schema)
    with pytest.raises(pa.ArrowInvalid) as info:
        writer.write_table(data)
        writer.close()
    message = _message(info.value, pa.ArrowInvalid)
    assert re.search("batch 0 .* over the limit of 10000 bytes", message)
    assert engine.read("pump", where={"asset": "C"}).num_rows == 0
    _good(client)


@pytest.mark.parametrize(
    ("command", "error", "fragment"),
    [
        ({"kind": "subscribe", "table": "nope"}, pa.ArrowKeyError, "'nope'"),
        (
            {"kind": "read", "table": "pump"},
            pa.ArrowInvalid,
            "must be one of ['subscribe']",
        ),
        (
            {"kind": "subscribe", "table": "pump", "fields": ["zz"]},
            pa.ArrowInvalid,
            "'zz'",
        ),
        (
            {"kind": "subscribe", "table": "pump", "where": {"x": "1"}},
            pa.ArrowInvalid,
            "'x'",
        ),
    ],
)
def test_bad_subscriptions(served, command, error, fragment):
    _, server, client = served
    descriptor = flight.FlightDescriptor.for_command(json.dumps(command))
    writer, reader = client.do_exchange(descriptor)
    with pytest.raises(error) as info:
        reader.read_chunk()
    assert fragment in _message(info.value, error)
    assert server.counters()["subscriptions"] == 0
    _good(client)


def test_bad_put_descriptor(served):
    _, _, client = served
    schema = pa.schema([("time", pa.int64())])
    command = flight.FlightDescriptor.for_command(
        b'{"kind": "write", "table": "t", "unit": "fortnight"}'
    )
    writer, _ = client.do_put(command, schema)
    with pytest.raises(pa.ArrowInvalid) as info:
        writer.close()
    assert "unit='fortnight'" in _message(info.value, pa.ArrowInvalid)
    _good(client)


def test_internal_errors_hide_internals_and_are_logged(caplog):
    class Broken(tsengine.Engine):
        def latest(self, *args, **kwargs):
            raise RuntimeError("secret internal state /srv/x")

    engine = Broken()
    engine.write("pump", {"time": [1], "v": [1.0]})
    server = tsengine.serve(engine, "grpc://127.0.0.1:0")
    client = flight.connect(f"grpc://127.0.0.1:{server.port}")
    try:
        with pytest.raises(flight.FlightInternalError) as info:
            _get(client, {"kind": "latest", "table": "pump"})
        assert "internal error in DoGet: RuntimeError" in str(info.value)
        assert "secret" not in str(info.value)
        assert _get(client, {"kind": "read", "table": "pump"}).num_rows == 1
    finally:
        client.close()
        server.shutdown()
    assert "secret internal state" in caplog.text  # the operator sees it in the log


def test_error_mapping_round_trip():
    """Every tsengine error class survives server -> Flight status -> client."""
    for cls in (
        tsengine.SchemaError,
        tsengine.TimestampError,
        tsengine.ParseError,
        tsengine.DuplicateError,
        tsengine.TableNotFoundError,
        tsengine.BudgetError,
        tsengine.ClosedError,
        RequestError,
    ):
        wire = to_flight(cls("bad value 'x'"), "test")
        back = from_flight(wire)
        assert type(back) is cls, (cls, wire, back)
        assert str(back) == "bad value 'x'"
    plain = from_flight(to_flight(ValueError("not a number: 'q'"), "test"))
    assert isinstance(plain, RequestError) and str(plain) == "not a number: 'q'"


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b'{"kind": "read", "table": "p", "start": [1]}', "start=[1]"),
        (b'{"kind": "read", "table": "p", "start": true}', "start=True"),
        (b'{"kind": "read", "table": "p", "where": {"a": [1]}}', "where['a']"),
        (b'{"kind": "read", "table": ""}', "table=''"),
        (b'{"kind": "latest", "table": "p", "n": 0}', "n=0"),
    ],
)
def test_parse_rejects(raw, fragment):
    with pytest.raises(RequestError) as info:
        parse(raw)
    assert fragment in str(info.value)


def test_parse_accepts_and_canonicalises():
    command = parse(b'{"table": "p", "kind": "read", "start": "-15m", "fields": "v"}')
    assert command.kind == "read" and command.table == "p"
    assert command.args == {"start": "-15m", "fields": ["v"]}
    assert parse(command.to_json()) == command
    assert parse(b'{"kind": "catalog"}').table is None


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
_commands = st.fixed_dictionaries(
    {"kind": st.sampled_from(["read", "latest", "aggregate", "catalog", "x"])},
    optional={
        "table": st.one_of(st.just("pump"), _json_values),
        "start": _json_values,
        "end": _json_values,
        "where": _json_values,
        "fields": _json_values,
        "n": _json_values,
    },
)


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=200) | _commands.map(lambda c: json.dumps(c).encode()))
def test_parse_fuzz_only_raises_tsengine_errors(raw):
    try:
        command = parse(raw)
    except tsengine.Error:
        return
    assert command.kind in ("read", "latest", "aggregate", "catalog")
    assert parse(command.to_json()) == command


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(command=_commands)
def test_server_survives_random_commands(served, command):
    engine, _, client = served
    try:
        _get(client, command)
    except (pa.ArrowInvalid, pa.ArrowKeyError, pa.ArrowNotImplementedError) as exc:
        assert "internal error" not in _message(exc, type(exc))
    _good(client)


def test_an_integer_too_long_for_python_is_a_request_error():
    from tsengine.flight.commands import decode
    from tsengine.flight.errors import RequestError

    raw = '{"kind": "read", "table": "t", "start": ' + "9" * 5000 + "}"
    with pytest.raises(RequestError, match="more than 4300 digits") as err:
        decode(raw.encode(), "ticket")
    assert "set_int_max_str_digits" not in str(err.value)

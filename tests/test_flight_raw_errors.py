"""What a plain ``pyarrow.flight.FlightClient`` sees for every error a client can
cause: the Flight status's own exception class, a message that starts with the
tsengine class and names the bad value, and after it no more of the server's Python
traceback than pyarrow insists on (see tsengine.flight.errors)."""

from __future__ import annotations

import json
import re

import numpy as np
import pyarrow as pa
import pyarrow.flight as flight
import pytest

import tsengine
from tsengine.flight import errors
from tsengine.flight.commands import MAX_REQUEST_BYTES

TOKEN = "raw-client-token-0123456789"
#: Every call is bounded in time, so a hung server fails the test instead of the run.
OPTIONS = flight.FlightCallOptions(timeout=30)
# The class a raw client raises for each status, and the tsengine class that starts
# the message: INVALID_ARGUMENT, NOT_FOUND, UNIMPLEMENTED.
INVALID = (pa.ArrowInvalid, "RequestError")
SCHEMA = (pa.ArrowInvalid, "SchemaError")
TIME = (pa.ArrowInvalid, "TimestampError")
NOT_FOUND = (pa.ArrowKeyError, "TableNotFoundError")
UNSUPPORTED = (pa.ArrowNotImplementedError, "UnsupportedError")
# Calls whose error the pyarrow client repeats in gRPC's debug context.
STREAMING = ("DoGet", "DoPut", "DoExchange")
_TRACEBACK = "Traceback (most recent call last):"
_FRAME = re.compile(r'File "([^"]+)", line \d+, in (\S+)')


@pytest.fixture(scope="module")
def raw():
    """An in-memory engine with table ``pump`` behind a loopback server."""
    engine = tsengine.Engine()
    engine.write("pump", {"time": np.arange(10), "asset": ["A"] * 10, "v": np.ones(10)})
    server = tsengine.serve(engine, "grpc://127.0.0.1:0", max_put_batch_bytes=10_000)
    client = flight.FlightClient(f"grpc://127.0.0.1:{server.port}")
    yield engine, client
    client.close()
    server.shutdown()
    engine.close()


def _check(info: pytest.ExceptionInfo, expected: tuple, fragment: str, rpc: str):
    """A refused request as a raw client sees it.

    The exception is the status's class; the message before ``". Detail: "``
    starts with the tsengine class and names the bad value. pyarrow appends the
    traceback of the Arrow exception the server raised, and two frames is its
    least: pyarrow's own callback and tsengine's handler boundary, nothing of the
    server's internals and no exception chain. On streaming calls the pyarrow
    client repeats the status message in gRPC's debug context, so the traceback
    appears twice there.
    """
    cls, name = expected
    error = info.value
    text = str(error)
    assert type(error) is cls, (type(error), text)
    message = text.split(". Detail: ", 1)[0]
    assert message.startswith(f"{name}: "), text
    assert fragment in message, text
    assert len(message) <= errors.MAX_MESSAGE_CHARS, text

    # what pyarrow appends, once per copy of the status message
    copies = 2 if rpc in STREAMING else 1
    assert text.count(_TRACEBACK) == copies, text
    frames = _FRAME.findall(text)
    assert text.count('File "') == len(frames) == 2 * copies, text
    callback = ("pyarrow/_flight.pyx", f"pyarrow._flight._{_snake(rpc)}")
    assert frames == [callback, (errors.__file__, "boundary")] * copies, text
    assert "During handling" not in text and "direct cause" not in text, text


def _snake(rpc: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", rpc).lower()


def _ticket(command: dict | bytes) -> flight.Ticket:
    raw = command if isinstance(command, bytes) else json.dumps(command).encode()
    return flight.Ticket(raw)


def _still_serves(client) -> None:
    got = client.do_get(_ticket({"kind": "read", "table": "pump"}), OPTIONS).read_all()
    assert got.num_rows == 10


@pytest.mark.parametrize(
    ("ticket", "expected", "fragment"),
    [
        ({"kind": "read", "table": "ghost"}, NOT_FOUND, "'ghost'"),
        (b'{"kind": "read", "table": ', INVALID, "not valid JSON"),
        (b"\xff{}", INVALID, "not UTF-8"),
        ({"kind": "read", "table": "pump", "start": 1.5}, INVALID, "start=1.5"),
        ({"kind": "latest", "table": "pump", "n": "7"}, INVALID, "n='7'"),
        ({"kind": "explode", "table": "pump"}, INVALID, "'explode'"),
        (
            {"kind": "read", "table": "pump", "end": "9999-01-01T00:00:00Z"},
            TIME,
            "'9999-01-01T00:00:00Z'",
        ),
        ({"kind": "read", "table": "pump", "start": 2**70}, INVALID, str(2**70)),
        ({"kind": "read", "table": "pump", "fields": ["nope"]}, SCHEMA, "'nope'"),
        (
            {"kind": "aggregate", "table": "pump", "every": "1s", "aggs": {"v": ["x"]}},
            SCHEMA,
            "'x'",
        ),
        (b" " * (MAX_REQUEST_BYTES + 1), INVALID, str(MAX_REQUEST_BYTES + 1)),
    ],
)
def test_do_get_errors(raw, ticket, expected, fragment):
    _, client = raw
    with pytest.raises(pa.ArrowException) as info:
        client.do_get(_ticket(ticket), OPTIONS).read_all()
    _check(info, expected, fragment, "DoGet")
    _still_serves(client)


@pytest.mark.parametrize("call", ["get_flight_info", "get_schema"])
def test_descriptor_errors(raw, call):
    _, client = raw
    rpc = "GetFlightInfo" if call == "get_flight_info" else "GetSchema"
    send = getattr(client, call)
    for descriptor, expected, fragment in [
        (flight.FlightDescriptor.for_path("ghost"), NOT_FOUND, "'ghost'"),
        (flight.FlightDescriptor.for_command(b"{nope"), INVALID, "not valid JSON"),
        (flight.FlightDescriptor.for_path("a", "b"), INVALID, "[b'a', b'b']"),
    ]:
        with pytest.raises(pa.ArrowException) as info:
            send(descriptor, OPTIONS)
        _check(info, expected, fragment, rpc)
    _still_serves(client)


def test_list_flights_criteria_not_utf8(raw):
    _, client = raw
    with pytest.raises(pa.ArrowException) as info:
        list(client.list_flights(b"\xffpump", OPTIONS))
    _check(info, INVALID, "\\xffpump", "ListFlights")


@pytest.mark.parametrize(
    ("name", "body", "expected", "fragment"),
    [
        ("reboot", b"", INVALID, "'reboot'"),
        ("create_table", b'{"name": ', INVALID, "not valid JSON"),
        ("create_table", b'{"name": "pump"}', SCHEMA, "'pump'"),
        ("create_table", b'{"name": "t", "fields": {"x": "f128"}}', SCHEMA, "f128"),
        ("create_table", b'{"name": "t", "ring_capacity": "big"}', SCHEMA, "'big'"),
        ("create_table", b" " * (MAX_REQUEST_BYTES + 1), INVALID, "over the limit"),
        ("drop", b'{"name": "ghost"}', NOT_FOUND, "'ghost'"),
        (
            "create_rollup",
            b'{"name": "r", "source": "ghost", "every": "1s", "aggs": {"v": ["max"]}}',
            NOT_FOUND,
            "'ghost'",
        ),
    ],
)
def test_do_action_errors(raw, name, body, expected, fragment):
    _, client = raw
    with pytest.raises(pa.ArrowException) as info:
        list(client.do_action(flight.Action(name, body), OPTIONS))
    _check(info, expected, fragment, "DoAction")
    _still_serves(client)


def _put(client, table: str, data: pa.Table) -> None:
    descriptor = flight.FlightDescriptor.for_path(table)
    writer, _ = client.do_put(descriptor, data.schema, OPTIONS)
    writer.write_table(data)
    writer.close()


def test_put_batch_of_wrong_type(raw):
    engine, client = raw
    data = pa.table(
        {"time": np.arange(20, 23), "asset": ["Z"] * 3, "v": ["a", "b", "c"]}
    )
    with pytest.raises(pa.ArrowException) as info:
        _put(client, "pump", data)
    _check(info, SCHEMA, "batch 0 of the put to table 'pump'", "DoPut")
    assert "'v'" in str(info.value).split(". Detail: ")[0]
    assert engine.read("pump", where={"asset": "Z"}).num_rows == 0
    _still_serves(client)


def test_put_batch_over_the_size_limit(raw):
    _, client = raw
    n = 1000
    data = pa.table({"time": np.arange(n), "asset": ["Z"] * n, "v": np.zeros(n)})
    with pytest.raises(pa.ArrowException) as info:
        _put(client, "pump", data)
    _check(info, INVALID, "over the limit of 10000 bytes", "DoPut")
    _still_serves(client)


def test_put_descriptor_with_bad_unit(raw):
    _, client = raw
    descriptor = flight.FlightDescriptor.for_command(
        b'{"kind": "write", "table": "pump", "unit": "fortnight"}'
    )
    writer, _ = client.do_put(descriptor, pa.schema([("time", pa.int64())]), OPTIONS)
    with pytest.raises(pa.ArrowException) as info:
        writer.close()
    _check(info, INVALID, "'fortnight'", "DoPut")


def test_subscribe_to_unknown_table(raw):
    _, client = raw
    descriptor = flight.FlightDescriptor.for_command(
        json.dumps({"kind": "subscribe", "table": "ghost"})
    )
    writer, reader = client.do_exchange(descriptor, OPTIONS)
    with pytest.raises(pa.ArrowException) as info:
        reader.read_chunk()
    _check(info, NOT_FOUND, "'ghost'", "DoExchange")
    _still_serves(client)


class _Limited(tsengine.Engine):
    """An engine without aggregate() and drop_table(), as older engines were."""

    aggregate = None
    drop_table = None


def test_what_the_engine_lacks_is_unimplemented():
    engine = _Limited()
    engine.write("pump", {"time": [1], "v": [1.0]})
    server = tsengine.serve(engine, "grpc://127.0.0.1:0")
    client = flight.FlightClient(f"grpc://127.0.0.1:{server.port}")
    aggregate = {"kind": "aggregate", "table": "pump", "every": "1s"}
    try:
        with pytest.raises(pa.ArrowException) as info:
            client.do_get(_ticket({**aggregate, "aggs": {"v": ["max"]}}), OPTIONS)
        _check(info, UNSUPPORTED, "aggregate()", "DoGet")
        with pytest.raises(pa.ArrowException) as info:
            list(client.do_action(flight.Action("drop", b'{"name": "pump"}')))
        _check(info, UNSUPPORTED, "cannot drop table 'pump'", "DoAction")
    finally:
        client.close()
        server.shutdown(flush=False)
        engine.close()


def test_closed_engine_is_unavailable_without_traceback():
    engine = tsengine.Engine()
    engine.write("pump", {"time": [1], "v": [1.0]})
    server = tsengine.serve(engine, "grpc://127.0.0.1:0")
    client = flight.FlightClient(f"grpc://127.0.0.1:{server.port}")
    engine.close()
    try:
        with pytest.raises(flight.FlightUnavailableError) as info:
            client.do_get(_ticket({"kind": "read", "table": "pump"}), OPTIONS)
    finally:
        client.close()
        server.shutdown()
    text = str(info.value)
    assert type(info.value) is flight.FlightUnavailableError
    assert text.startswith("ClosedError: the engine is closed"), text
    assert 'File "' not in text and "Detail: Python" not in text, text


@pytest.fixture(scope="module")
def guarded():
    """A loopback server that needs bearer token ``TOKEN``."""
    engine = tsengine.Engine()
    server = tsengine.serve(engine, "grpc://127.0.0.1:0", tokens=[TOKEN])
    yield f"grpc://127.0.0.1:{server.port}"
    server.shutdown()
    engine.close()


@pytest.mark.parametrize(
    ("header", "fragment"),
    [
        (None, "no authorization header"),
        (b"Bearer wrong-token-9876543210", "bearer token not accepted"),
        (b"Digest abc", "'digest'"),
    ],
)
def test_bad_credentials(guarded, header, fragment):
    client = flight.FlightClient(guarded)
    headers = [] if header is None else [(b"authorization", header)]
    options = flight.FlightCallOptions(timeout=30, headers=headers)
    try:
        with pytest.raises(flight.FlightUnauthenticatedError) as info:
            list(client.do_action(flight.Action("health", b""), options))
    finally:
        client.close()
    text = str(info.value)
    assert type(info.value) is flight.FlightUnauthenticatedError
    assert fragment in text, text
    assert 'File "' not in text, text  # a FlightError carries no traceback
    assert "wrong-token" not in text  # a secret is never echoed


def test_named_class_and_long_messages():
    """The class a message starts with comes back whatever the status; an engine
    message listing thousands of tables is cut to a readable length."""
    named = flight.FlightServerError("SchemaError: 'v'")
    assert type(errors.from_flight(named)) is tsengine.SchemaError
    names = [f"table_{i}" for i in range(5000)]
    wire = errors.to_flight(tsengine.TableNotFoundError(f"'q' not in {names}"), "DoGet")
    assert type(wire) is pa.ArrowKeyError
    assert len(str(wire)) <= errors.MAX_MESSAGE_CHARS
    assert str(wire).startswith("TableNotFoundError: 'q' not in")

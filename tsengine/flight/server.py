"""The Arrow Flight server: one ``FlightServerBase`` in front of one engine.

=================  ============================================================
RPC                what it does
=================  ============================================================
DoPut              descriptor path ``[table]`` (or a ``write`` command); every
                   record batch is validated and stored atomically, then
                   acknowledged with ``{"batch", "rows", "seq", "durable_seq"}``
                   in the put's metadata stream (the batch is durable once
                   ``durable_seq >= seq``; both null in memory). A bad
                   batch ends the put with INVALID_ARGUMENT naming it;
                   earlier batches stay stored.
GetFlightInfo      a JSON command (or path ``[table]`` = read it all): schema,
                   and one endpoint whose ticket is the canonical command.
DoGet              a ticket that is a JSON command; bounded record batches.
GetSchema          schema of a table (path) or of a command's result.
ListFlights        every table and rollup with schema and row count;
                   ``criteria`` is an optional glob on names.
DoAction           health, stats, flush, create_table, create_rollup, drop.
DoExchange         ``{"kind": "subscribe", "table": ...}``: first a metadata
                   message ``{"subscribed": table}``, then rows written after
                   it until the client cancels the call or disconnects.
=================  ============================================================

Handlers run on gRPC's thread pool. Every error leaves through
:func:`~tsengine.flight.errors.handler` with its Flight status (a bad request is
INVALID_ARGUMENT, an unknown table NOT_FOUND), so a bad request costs the client one
error naming the bad value and the server nothing.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import threading
import time
from collections import Counter
from typing import Any

import pyarrow as pa
import pyarrow.flight as flight

from tsengine.flight import actions, puts
from tsengine.flight.auth import (
    Authenticator,
    AuthMiddlewareFactory,
    HandshakeHandler,
)
from tsengine.flight.commands import Command, parse
from tsengine.flight.errors import RequestError, handler
from tsengine.flight.queries import (
    bounded_table,
    result_schema,
    rollup_names,
    run,
    table_parts,
)
from tsengine.flight.subscriptions import SUBSCRIBER_MAX_BYTES, Subscription

log = logging.getLogger("tsengine.flight")

#: Largest record batch a DoPut may send, in bytes (larger ones are refused).
MAX_PUT_BATCH_BYTES = 256 << 20
#: Bytes of a DoGet result sent by Arrow's C++ code between two checks for a
#: cancelled call or a stopping server.
STREAM_PART_BYTES = 64 << 20
#: How often a subscription checks for a cancelled call or a stopping server (s).
POLL_SECONDS = 0.1


class FlightServer(flight.FlightServerBase):
    """Arrow Flight service for a :class:`tsengine.Engine`; listening once created.

    Usually made by :func:`tsengine.serve`, which also loads credentials and checks
    the bind address.

    Parameters
    ----------
    engine : tsengine.Engine
        The engine served. The server does not close it.
    location : str
        ``grpc://host:port`` or ``grpc+tls://host:port``; port 0 picks a free port
        (see :attr:`port`).
    authenticator : Authenticator, optional
        Accepted tokens and users; None or an empty one serves without auth.
    tls_certificates : list of flight.CertKeyPair, optional
        Server certificate chain and key (with a ``grpc+tls`` location).
    verify_client : bool
        Require client certificates signed by ``root_certificates`` (mutual TLS).
    root_certificates : bytes, optional
        PEM CA bundle for client certificates.
    max_put_batch_bytes : int
        DoPut batches larger than this are refused, in bytes.
    subscriber_max_bytes : int
        Unsent bytes a subscriber may fall behind before its stream is ended.
    """

    def __init__(
        self,
        engine: Any,
        location: str,
        *,
        authenticator: Authenticator | None = None,
        tls_certificates: list | None = None,
        verify_client: bool = False,
        root_certificates: bytes | None = None,
        max_put_batch_bytes: int = MAX_PUT_BATCH_BYTES,
        subscriber_max_bytes: int = SUBSCRIBER_MAX_BYTES,
    ) -> None:
        middleware = {}
        self.auth = handshake = None
        if authenticator is not None and authenticator.enabled:
            self.auth = AuthMiddlewareFactory(authenticator)
            middleware["auth"] = self.auth
            handshake = HandshakeHandler()
        super().__init__(
            location,
            auth_handler=handshake,
            tls_certificates=tls_certificates or [],
            verify_client=verify_client,
            root_certificates=root_certificates,
            middleware=middleware,
        )
        self.engine = engine
        self.location = location
        self.max_put_batch_bytes = max_put_batch_bytes
        self.subscriber_max_bytes = subscriber_max_bytes
        self.started = time.monotonic()
        self._stopping = threading.Event()
        self._stopped = False
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._subscriptions: set[Subscription] = set()

    # -- bookkeeping -----------------------------------------------------------------

    def count(self, **deltas: int) -> None:
        """Add to the server counters (thread-safe)."""
        with self._lock:
            self._counts.update(deltas)

    def counters(self) -> dict[str, int]:
        """Calls, rows in and out, open streams and subscriptions, auth failures."""
        with self._lock:
            out = dict(self._counts)
            out["subscriptions"] = len(self._subscriptions)
        out.setdefault("active_streams", 0)
        out["auth_failures"] = self.auth.failures if self.auth else 0
        return out

    def shutdown(self, flush: bool = True) -> None:
        """Stop serving: end subscriptions, wait for calls in flight, flush the engine.

        Idempotent; call it from any thread but a handler.
        """
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            subscriptions = list(self._subscriptions)
        self._stopping.set()
        for subscription in subscriptions:
            subscription.wake()
        super().shutdown()
        if flush and not getattr(self.engine, "_closed", False):
            self.engine.flush()
        log.info("Flight server on %s stopped", self.location)

    # -- descriptors -----------------------------------------------------------------

    def _command(self, descriptor: flight.FlightDescriptor, kinds=None) -> Command:
        if descriptor.descriptor_type == flight.DescriptorType.PATH:
            path = descriptor.path or []
            if len(path) != 1:
                raise RequestError(
                    f"descriptor path {path!r} must name exactly one table"
                )
            name = bytes(path[0]).decode("utf-8", "replace")
            kind = "read" if kinds is None else kinds[0]
            return parse({"kind": kind, "table": name}, "descriptor", (kind,))
        if kinds is None:
            return parse(descriptor.command, "command")
        return parse(descriptor.command, "command", kinds)

    # -- catalog -----------------------------------------------------------------------

    @handler("ListFlights")
    def list_flights(self, context, criteria):
        # a list, not a generator: an error while listing leaves through handler
        pattern = _criteria(bytes(criteria or b""))
        stats = self.engine.stats().get("tables", {})
        names = sorted(set(self.engine.tables()) | set(rollup_names(self.engine)))
        infos = []
        for name in fnmatch.filter(names, pattern):
            table_stats = stats.get(name, {})
            ticket = Command("read", name).to_json()
            infos.append(
                flight.FlightInfo(
                    self.engine.schema(name),
                    flight.FlightDescriptor.for_path(name),
                    [flight.FlightEndpoint(ticket, [])],
                    table_stats.get("points", -1),
                    table_stats.get("memory_bytes", -1),
                )
            )
        self.count(list_flights=1)
        return infos

    @handler("GetFlightInfo")
    def get_flight_info(self, context, descriptor):
        command = self._command(descriptor)
        schema, rows = result_schema(self.engine, command)
        endpoint = flight.FlightEndpoint(command.to_json(), [])
        return flight.FlightInfo(schema, descriptor, [endpoint], rows, -1)

    @handler("GetSchema")
    def get_schema(self, context, descriptor):
        command = self._command(descriptor)
        schema, _ = result_schema(self.engine, command)
        return flight.SchemaResult(schema)

    # -- reads -----------------------------------------------------------------------

    @handler("DoGet")
    def do_get(self, context, ticket):
        command = parse(ticket.ticket, "ticket")
        table = bounded_table(run(self.engine, command))
        self.count(gets=1, rows_sent=table.num_rows)
        if table.num_rows == 0 or len(table.column(0).chunks) <= 1:
            # one message: straight to C++ (latest, small reads)
            return flight.RecordBatchStream(table)
        return flight.GeneratorStream(table.schema, self._stream(table, context))

    def _stream(self, table: pa.Table, context):
        # Arrow's C++ code sends each part's batches without calling into Python;
        # between parts the generator checks for a cancelled call or a stopping
        # server. It owns the result: when the client goes away the stream is
        # dropped, the generator closed, and the result freed with it.
        self.count(active_streams=1)
        try:
            for part in table_parts(table, STREAM_PART_BYTES):
                if context.is_cancelled():
                    return
                if self._stopping.is_set():
                    raise flight.FlightUnavailableError(
                        "the server is shutting down; the result was cut short"
                    )
                yield flight.RecordBatchStream(part)
        finally:
            self.count(active_streams=-1)

    # -- writes ----------------------------------------------------------------------

    @handler("DoPut")
    def do_put(self, context, descriptor, reader, writer):
        command = self._command(descriptor, ("write",))
        self.count(puts=1)
        puts.receive(self, command, reader, writer)

    # -- actions ---------------------------------------------------------------------

    @handler("DoAction")
    def do_action(self, context, action):
        body = action.body.to_pybytes() if action.body is not None else b""
        result = actions.run_action(self, action.type, body)
        self.count(actions=1)
        return [result]

    def list_actions(self, context):
        return [(name, entry[0]) for name, entry in actions.ACTIONS.items()]

    # -- live subscriptions --------------------------------------------------------

    @handler("DoExchange")
    def do_exchange(self, context, descriptor, reader, writer):
        command = self._command(descriptor, ("subscribe",))
        if self._stopping.is_set():
            raise flight.FlightUnavailableError("the server is shutting down")
        subscription = Subscription(
            self.engine,
            command.table,
            max_bytes=self.subscriber_max_bytes,
            **command.args,
        )
        with self._lock:
            self._subscriptions.add(subscription)
        try:
            subscription.start()
            writer.begin(subscription.schema)
            writer.write_metadata(_json({"subscribed": command.table}))
            self._pump(subscription, context, writer)
        finally:
            subscription.close()
            with self._lock:
                self._subscriptions.discard(subscription)
            self.count(rows_streamed=subscription.rows_sent)

    def _pump(self, subscription: Subscription, context, writer) -> None:
        """Send queued rows until the call is cancelled or the server stops."""
        while True:
            if context.is_cancelled():
                return
            if self._stopping.is_set():
                writer.write_metadata(_json({"end": "server shutting down"}))
                return
            if subscription.overflowed:
                raise flight.FlightUnavailableError(
                    f"subscription to {subscription.table!r} fell more than "
                    f"{subscription.max_bytes} bytes behind and was ended; "
                    "resubscribe and read the gap with a 'read' command"
                )
            data = subscription.next(POLL_SECONDS)
            if data is None:
                continue
            try:
                for batch in subscription.shape(data):
                    writer.write_batch(batch)
            except (flight.FlightError, pa.ArrowException, OSError):
                if context.is_cancelled():
                    return  # the client left while we were sending
                raise


def _criteria(raw: bytes) -> str:
    """The ListFlights name pattern (default: every name)."""
    try:
        return raw.decode("utf-8") or "*"
    except UnicodeDecodeError:
        raise RequestError(
            f"ListFlights criteria {raw[:80]!r} is not UTF-8; expected a name glob"
        ) from None


def _json(value: dict) -> pa.Buffer:
    return pa.py_buffer(json.dumps(value).encode())

"""A thin Python client for a tsengine Flight server, shaped like the engine API.

Every method is one Flight call; results are pyarrow Tables. Server errors come back
as the tsengine error the server raised (``TableNotFoundError``, ``SchemaError``...,
see :mod:`tsengine.flight.errors`) with the server's message.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import pyarrow as pa
import pyarrow.flight as flight

from tsengine.flight.errors import RequestError, ServerError, from_flight, remote
from tsengine.flight.lifecycle import _pem, split_location

#: Writes up to this size go as one batch, stored all or nothing, in bytes.
ATOMIC_WRITE_BYTES = 64 << 20
#: Size of the parts a larger write is split into, in bytes.
WRITE_PART_BYTES = 4 << 20


class Client:
    """Connection to a tsengine Flight server; see :func:`connect`."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        tls_root_certs: str | bytes | os.PathLike | None = None,
        cert_chain: str | bytes | os.PathLike | None = None,
        private_key: str | bytes | os.PathLike | None = None,
        override_hostname: str | None = None,
        timeout: float | None = None,
    ) -> None:
        scheme, host, port = split_location(url)
        if tls_root_certs is not None and scheme != "grpc+tls":
            scheme = "grpc+tls"
        kwargs = {
            "tls_root_certs": _pem(tls_root_certs, "TLS root certificates"),
            "cert_chain": _pem(cert_chain, "client certificate"),
            "private_key": _pem(private_key, "client key"),
            "override_hostname": override_hostname,
        }
        self.url = f"{scheme}://{host}:{port}"
        with remote("connect"):
            self._flight = flight.FlightClient(
                self.url, **{k: v for k, v in kwargs.items() if v is not None}
            )
        headers: list[tuple[bytes, bytes]] = []
        if token is not None:
            headers.append((b"authorization", f"Bearer {token}".encode()))
        elif username is not None:
            with remote("login"):
                pair = self._flight.authenticate_basic_token(
                    username,
                    password or "",
                    flight.FlightCallOptions(timeout=timeout),
                )
            headers.append(pair)
        self._options = flight.FlightCallOptions(headers=headers, timeout=timeout)
        # subscriptions stream forever: no deadline on them
        self._stream_options = flight.FlightCallOptions(headers=headers)

    # -- queries ---------------------------------------------------------------------

    def _get(self, command: dict) -> pa.Table:
        ticket = flight.Ticket(json.dumps(command).encode())
        with remote(command["kind"]):
            return self._flight.do_get(ticket, self._options).read_all()

    def read(
        self,
        table: str,
        start: Any = None,
        end: Any = None,
        where: dict[str, Any] | None = None,
        fields: list[str] | None = None,
    ) -> pa.Table:
        """Points with ``start <= time < end``, as :meth:`tsengine.Engine.read`.

        Times are int ns or strings (ISO 8601, or relative such as ``"-15m"``).
        """
        command = {"kind": "read", "table": table, "start": _time(start)}
        command.update(end=_time(end), where=where, fields=fields)
        return self._get(command)

    def latest(
        self,
        table: str,
        where: dict[str, Any] | None = None,
        n: int = 1,
        fields: list[str] | None = None,
    ) -> pa.Table:
        """The ``n`` newest points of every matching series."""
        return self._get(
            {"kind": "latest", "table": table, "where": where, "n": n, "fields": fields}
        )

    def aggregate(self, table: str, **args: Any) -> pa.Table:
        """Windowed aggregates; arguments as :meth:`tsengine.Engine.aggregate`."""
        for key in ("start", "end"):
            if key in args:
                args[key] = _time(args[key])
        return self._get({"kind": "aggregate", "table": table, **args})

    def catalog(self) -> pa.Table:
        """One row per table and rollup: name, kind, tags, fields, rows, bytes."""
        return self._get({"kind": "catalog"})

    def tables(self) -> list[str]:
        """Names of every table and rollup, sorted."""
        return self.catalog().column("name").to_pylist()

    def schema(self, table: str) -> pa.Schema:
        """Arrow schema of a read of ``table``."""
        with remote("schema"):
            descriptor = flight.FlightDescriptor.for_path(table)
            return self._flight.get_schema(descriptor, self._options).schema

    # -- writes ----------------------------------------------------------------------

    def write(
        self,
        table: str,
        data: Any,
        *,
        tags: Iterable[str] | None = None,
        unit: str = "ns",
    ) -> int:
        """Write long-format rows to ``table``; returns the rows stored.

        ``data`` is anything :meth:`tsengine.Engine.write` takes. Up to
        :data:`ATOMIC_WRITE_BYTES` it travels as one batch and is stored all or
        nothing. Larger data is split into parts that are each stored atomically;
        if one fails, the error says which part, and the parts before it stay.
        """
        from tsengine.core.normalize import to_arrow

        arrow = to_arrow(data, table)
        if arrow.nbytes <= ATOMIC_WRITE_BYTES:
            batches = [b for b in arrow.combine_chunks().to_batches() if b.num_rows]
        else:
            from tsengine.flight.queries import bounded_batches

            batches = list(bounded_batches(arrow, WRITE_PART_BYTES))
        acks = self.write_batches(table, batches, arrow.schema, tags=tags, unit=unit)
        return sum(a["rows"] for a in acks)

    def write_batches(
        self,
        table: str,
        batches: Iterable[pa.RecordBatch],
        schema: pa.Schema,
        *,
        tags: Iterable[str] | None = None,
        unit: str = "ns",
    ) -> list[dict]:
        """Stream record batches to ``table`` in one DoPut; returns the server's acks.

        Each ack is ``{"batch": index, "rows": stored, "seq": s, "durable_seq": d}``:
        the batch is durable once a ``durable_seq`` (this one or a later flush's)
        reaches ``seq``. ``seq`` and ``durable_seq`` are None in memory.
        Acks are read on a helper thread while batches are sent, so the stream never
        waits for a round trip per batch.
        """
        if tags is None and unit == "ns":
            descriptor = flight.FlightDescriptor.for_path(table)
        else:
            command = {"kind": "write", "table": table, "unit": unit}
            if tags is not None:
                command["tags"] = list(tags)
            descriptor = flight.FlightDescriptor.for_command(json.dumps(command))
        with remote("write"):
            writer, acks_in = self._flight.do_put(descriptor, schema, self._options)
        acks: list[dict] = []
        reader = threading.Thread(target=_collect_acks, args=(acks_in, acks))
        reader.start()
        failure = None
        try:
            for batch in batches:
                writer.write_batch(batch)
            writer.done_writing()
        except (flight.FlightError, pa.ArrowException) as exc:
            failure = exc
        finally:
            reader.join()
            try:
                writer.close()
            except (flight.FlightError, pa.ArrowException) as exc:
                failure = exc
        if failure is not None:
            error = from_flight(failure)
            error.acks = acks
            raise error from failure
        return acks

    # -- live rows -------------------------------------------------------------------

    def subscribe(
        self,
        table: str,
        where: dict[str, Any] | None = None,
        fields: list[str] | None = None,
    ) -> Subscription:
        """Rows written to ``table`` from now on; iterate it, close it when done.

        Returns once the server follows the table, so every row written after this
        call returns is delivered.
        """
        command = {"kind": "subscribe", "table": table}
        if where is not None:
            command["where"] = where
        if fields is not None:
            command["fields"] = fields
        descriptor = flight.FlightDescriptor.for_command(json.dumps(command))
        with remote("subscribe"):
            writer, reader = self._flight.do_exchange(descriptor, self._stream_options)
        subscription = Subscription(writer, reader)
        subscription._wait_started()
        return subscription

    # -- administration --------------------------------------------------------------

    def _action(self, name: str, body: dict | None = None) -> dict:
        payload = b"" if body is None else json.dumps(body).encode()
        with remote(name):
            results = list(
                self._flight.do_action(flight.Action(name, payload), self._options)
            )
        return json.loads(results[0].body.to_pybytes()) if results else {}

    def health(self) -> dict:
        """Server status, version and uptime."""
        return self._action("health")

    def stats(self) -> dict:
        """``{"engine": engine.stats(), "server": counters}``."""
        return self._action("stats")

    def flush(self) -> dict:
        """Make everything written so far durable on the server."""
        return self._action("flush")

    def create_table(
        self,
        name: str,
        tags: Iterable[str] = (),
        fields: dict[str, str] | None = None,
        **options: Any,
    ) -> dict:
        """Create a table on the server; returns its definition as a dict."""
        body = {"name": name, "tags": list(tags), "fields": dict(fields or {})}
        return self._action("create_table", {**body, **options})

    def create_rollup(self, name: str, **args: Any) -> dict:
        """Create a continuous rollup; arguments as ``Engine.create_rollup``."""
        return self._action("create_rollup", {"name": name, **args})

    def drop(self, name: str) -> dict:
        """Drop a table or rollup."""
        return self._action("drop", {"name": name})

    def close(self) -> None:
        """Close the connection."""
        self._flight.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Subscription:
    """Iterator of record batches from a DoExchange subscription."""

    def __init__(self, writer, reader) -> None:
        self._writer = writer
        self._reader = reader
        self._closed = False
        self.schema: pa.Schema | None = None
        self.table: str | None = None

    def _wait_started(self) -> None:
        with remote("subscribe"):
            chunk = self._reader.read_chunk()
        message = _meta(chunk)
        if "subscribed" not in message:
            self.close()
            raise ServerError(f"unexpected first subscription message {message!r}")
        self.table = message["subscribed"]
        self.schema = self._reader.schema

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        return self

    def __next__(self) -> pa.RecordBatch:
        while not self._closed:
            try:
                with remote("subscribe"):
                    chunk = self._reader.read_chunk()
            except StopIteration:
                break
            if chunk.data is not None:
                return chunk.data
            if "end" in _meta(chunk):
                break
        self.close()
        raise StopIteration

    def close(self) -> None:
        """End the subscription (cancels the call; idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._reader.cancel()
        try:
            self._writer.close()
        except (flight.FlightError, pa.ArrowException):
            pass  # the cancellation we just asked for

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _meta(chunk) -> dict:
    if chunk.app_metadata is None:
        return {}
    return json.loads(chunk.app_metadata.to_pybytes())


def _collect_acks(acks_in, acks: list) -> None:
    # a failed put surfaces on the writer; here we only stop reading
    try:
        while (message := acks_in.read()) is not None:
            acks.append(json.loads(message.to_pybytes()))
    except (flight.FlightError, pa.ArrowException):
        return


def _time(value: Any) -> Any:
    """A time as JSON can carry it: None, int ns or a string."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    from tsengine.timeconv import to_ns

    return to_ns(value)


def connect(url: str = "grpc://127.0.0.1:8815", **options: Any) -> Client:
    """Connect to a tsengine Flight server.

    Parameters
    ----------
    url : str
        ``grpc://host:port`` or ``grpc+tls://host:port``.
    token : str, optional
        Bearer token.
    username, password : str, optional
        Basic login, exchanged once for a bearer token.
    tls_root_certs : path or PEM, optional
        CA that signed the server certificate (turns TLS on).
    cert_chain, private_key : path or PEM, optional
        Client certificate and key for mutual TLS.
    override_hostname : str, optional
        Name to check the server certificate against.
    timeout : float, optional
        Deadline per call in seconds (subscriptions have none).

    Examples
    --------
    >>> import tsengine
    >>> server = tsengine.serve(tsengine.Engine(), "grpc://127.0.0.1:0")
    >>> client = tsengine.connect(f"grpc://127.0.0.1:{server.port}")
    >>> client.write("pump", {"time": [1, 2], "asset": ["P-1", "P-1"],
    ...                       "vibration": [0.5, 0.7]})
    2
    >>> client.latest("pump").column("vibration").to_pylist()
    [0.7]
    >>> client.close(); server.shutdown()
    """
    if not isinstance(url, str):
        raise RequestError(f"url {url!r} must be a string like 'grpc://host:8815'")
    return Client(url, **options)

"""DoPut: storing a stream of record batches, one atomic write per batch, with acks.

The next batch is received on a helper thread while the current one is stored, so
network receive and IPC decoding (which release the GIL) overlap the engine's write.
The helper reads at most one batch ahead, and the handler always waits for it before
returning: the Flight reader belongs to the call and must not be touched after the
handler ends.

One consequence: when a batch is refused, the put ends once the read already in
progress completes, that is when the client's next message (a batch or the end of its
stream) arrives. Batches after the refused one are never stored; the acks say exactly
which were.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from typing import Any

import pyarrow as pa

from tsengine.errors import Error
from tsengine.flight.commands import Command
from tsengine.flight.errors import RequestError
from tsengine.flight.queries import log_position

log = logging.getLogger("tsengine.flight")

_END = object()


class ReadAhead:
    """Receive the chunks of a DoPut one ahead of their consumer, on a thread."""

    def __init__(self, reader) -> None:
        self._reader = reader
        self._chunks: queue.SimpleQueue = queue.SimpleQueue()
        self._permit = threading.Semaphore(0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._pull, daemon=True)
        self._thread.start()

    def _pull(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    chunk = self._reader.read_chunk()
                except StopIteration:
                    break
                self._chunks.put(chunk)
                # read the next chunk only once this one is taken: one ahead at most
                self._permit.acquire()
        except BaseException as exc:  # handed to the consumer, raised there
            self._chunks.put(exc)
        finally:
            self._chunks.put(_END)

    def __iter__(self):
        return self

    def __next__(self):
        item = self._chunks.get()
        if item is _END:
            self._thread.join()
            raise StopIteration
        if isinstance(item, BaseException):
            self._thread.join()
            raise item
        self._permit.release()
        return item

    def close(self) -> None:
        """Stop reading; returns once the helper no longer touches the reader."""
        self._stop.set()
        self._permit.release()
        self._thread.join()


def receive(server: Any, command: Command, reader, writer) -> None:
    """Store every batch of a DoPut into ``command.table`` and acknowledge it.

    Each ack is the JSON ``{"batch", "rows", "seq", "durable_seq"}`` (see
    :func:`~tsengine.flight.queries.log_position`).

    Raises
    ------
    tsengine.Error, ValueError or TypeError
        A refused or unreadable batch, with its index, table and reason in the
        message; the DoPut handler sends it as INVALID_ARGUMENT (see
        :func:`~tsengine.flight.errors.to_flight`).
    """
    table = command.table
    chunks = ReadAhead(reader)
    index = 0
    try:
        while True:
            try:
                chunk = next(chunks)
            except StopIteration:
                break
            except pa.ArrowException as exc:
                # the client's stream broke or held an undecodable message
                raise RequestError(
                    f"batch {index} of the put to table {table!r} could not be "
                    f"read: {exc}"
                ) from exc
            batch = chunk.data
            if batch is None:  # a metadata-only message carries no rows
                continue
            try:
                rows = _store(server, table, batch, command.args)
            except (Error, ValueError, TypeError) as exc:
                # the batch's fault; anything else is a bug and leaves as it is
                log.debug("put to %r refused batch %d: %s", table, index, exc)
                raise _name_batch(exc, table, index) from exc
            seq, durable = log_position(server.engine)
            ack = {"batch": index, "rows": rows, "seq": seq, "durable_seq": durable}
            try:
                writer.write(pa.py_buffer(json.dumps(ack).encode()))
            except OSError as exc:
                # the client went away: not a server fault; what it sent is stored
                log.info(
                    "put to %r ended by the client after batch %d (stored, not "
                    "acknowledged): %s",
                    table,
                    index,
                    exc,
                )
                return
            index += 1
    finally:
        chunks.close()


def _store(server: Any, table: str, batch: pa.RecordBatch, args: dict) -> int:
    size = batch.nbytes
    if size > server.max_put_batch_bytes:
        raise RequestError(
            f"batch is {size} bytes, over the limit of "
            f"{server.max_put_batch_bytes} bytes; send smaller batches"
        )
    if batch.num_rows == 0:
        return 0
    unit = {"unit": args["unit"]} if "unit" in args else {}
    rows = server.engine.write(table, batch, tags=args.get("tags"), **unit)
    server.count(batches=1, rows_written=rows)
    return rows


def _name_batch(exc: Exception, table: str, index: int) -> Exception:
    """The same error, its message prefixed with the batch and table it concerns."""
    message = f"batch {index} of the put to table {table!r}: {exc}"
    try:
        return type(exc)(message)
    except Exception:
        return RequestError(message)

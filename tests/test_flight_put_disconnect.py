"""A DoPut whose client goes away while acks are being sent: the batches already
received stay stored, and it is logged as the client leaving, not as a server bug."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import numpy as np
import pyarrow as pa

import tsengine
from tsengine.flight.puts import receive


class _Reader:
    """Hands out record batches as pyarrow's put reader does (``read_chunk``)."""

    def __init__(self, batches):
        self._batches = list(batches)

    def read_chunk(self):
        if not self._batches:
            raise StopIteration
        return SimpleNamespace(data=self._batches.pop(0), app_metadata=None)


class _GoneAfter:
    """An ack stream whose client disconnects after ``n`` acks."""

    def __init__(self, n: int):
        self.n = n
        self.acks = []

    def write(self, buf):
        if len(self.acks) == self.n:
            raise OSError("Unknown error writing metadata.")
        self.acks.append(buf.to_pybytes())


def test_a_client_leaving_mid_put_is_logged_as_such_and_its_batches_stay(caplog):
    engine = tsengine.Engine()
    counted = []
    server = SimpleNamespace(
        engine=engine,
        max_put_batch_bytes=1 << 30,
        count=lambda **kw: counted.append(kw),
    )
    batches = [
        pa.record_batch({"time": np.arange(i * 10, i * 10 + 10), "v": np.ones(10)})
        for i in range(5)
    ]
    writer = _GoneAfter(2)
    command = SimpleNamespace(table="t", args={})
    with caplog.at_level(logging.INFO, logger="tsengine.flight"):
        receive(server, command, _Reader(batches), writer)
    assert len(writer.acks) == 2
    # the third batch was stored before its ack failed; nothing after it was read
    assert engine.read("t").num_rows == 30
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("ended by the client after batch 2" in r.message for r in caplog.records)
    engine.close()

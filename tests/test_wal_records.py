"""Payloads of log records: exact round trips and clean errors on malformed bytes."""

from __future__ import annotations

import struct

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tsengine.errors import CorruptionError
from tsengine.storage.records import (
    decode_definition,
    decode_write,
    encode_definition,
    encode_write,
)

SPECIAL_FLOATS = [
    0.0,
    -0.0,
    float("inf"),
    float("-inf"),
    5e-324,
    1.7976931348623157e308,
]


def joined(parts) -> bytes:
    return b"".join(bytes(p) for p in parts)


def float_bits(table: pa.Table, name: str) -> list:
    """Bit patterns of a float column, None for nulls: NaN payloads compare exactly."""
    col = table.column(name).combine_chunks()
    bits = np.asarray(col.fill_null(0.0)).view(np.uint64).tolist()
    return [None if not v else b for v, b in zip(col.is_valid().to_pylist(), bits)]


@st.composite
def write_tables(draw):
    n = draw(st.integers(0, 40))
    times = draw(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=n, max_size=n))
    bits = draw(st.lists(st.integers(0, 2**64 - 1), min_size=n, max_size=n))
    nulls = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    tags = draw(st.lists(st.text(max_size=5) | st.none(), min_size=n, max_size=n))
    values = np.array(bits, dtype=np.uint64).view(np.float64)
    table = pa.table(
        {
            "time": pa.array(times, pa.int64()),
            "asset": pa.array(tags, pa.string()),
            "v": pa.array(values, mask=np.array(nulls, dtype=bool)),
            "n": pa.array(times, pa.int64()),
        }
    )
    return table


@settings(max_examples=60, deadline=None)
@given(tables=st.lists(write_tables(), min_size=1, max_size=3))
def test_write_round_trip_is_exact(tables):
    named = {f"t{i}\u00e9": t for i, t in enumerate(tables)}
    got = decode_write(joined(encode_write(named)))
    assert list(got) == list(named)
    for name, table in named.items():
        assert got[name].schema == table.schema
        assert got[name].column("time").equals(table.column("time"))
        assert got[name].column("asset").equals(table.column("asset"))
        assert float_bits(got[name], "v") == float_bits(table, "v")


def test_special_floats_and_nan_payload_survive():
    nan_payload = np.array([0x7FF8_0000_0000_1234], dtype=np.uint64).view(np.float64)
    values = np.concatenate([np.array(SPECIAL_FLOATS), nan_payload])
    table = pa.table({"v": values})
    got = decode_write(joined(encode_write({"x": table})))["x"]
    assert float_bits(got, "v") == float_bits(table, "v")


def test_record_batch_is_accepted_and_bad_type_rejected():
    batch = pa.record_batch({"v": [1.0, 2.0]})
    got = decode_write(joined(encode_write({"x": batch})))
    assert got["x"].to_pylist() == [{"v": 1.0}, {"v": 2.0}]
    with pytest.raises(TypeError, match="'x'.*dict"):
        encode_write({"x": {"v": [1.0]}})


def test_definition_round_trip_and_errors():
    definition = {"name": "pompe", "tags": ["site"], "fields": {"v": "float64"}}
    assert decode_definition(encode_definition(definition)) == definition
    with pytest.raises(CorruptionError, match="not valid JSON"):
        decode_definition(b"{nope")
    with pytest.raises(CorruptionError, match="list"):
        decode_definition(b"[1]")


def test_truncated_and_mutated_write_payloads_raise_corruption_only():
    table = pa.table({"time": pa.array([1, 2, 3], pa.int64()), "s": ["a", "b", None]})
    payload = joined(encode_write({"pump": table, "other": table}))
    rng = np.random.default_rng(7)

    # Every truncation
    for cut in range(len(payload)):
        with pytest.raises(CorruptionError):
            decode_write(payload[:cut])

    # Random byte mutations: either a clean error or some valid tables, never a crash
    for _ in range(400):
        data = bytearray(payload)
        for at in rng.integers(0, len(data), size=int(rng.integers(1, 4))):
            data[at] = int(rng.integers(0, 256))
        try:
            decoded = decode_write(bytes(data))
        except CorruptionError:
            continue
        assert all(isinstance(t, pa.Table) for t in decoded.values())


def test_trailing_bytes_and_huge_lengths_are_reported():
    payload = joined(encode_write({"a": pa.table({"v": [1]})}))
    with pytest.raises(CorruptionError, match="1 trailing bytes"):
        decode_write(payload + b"\0")
    huge = struct.pack("<II", 1, 2**31) + b"ab"
    with pytest.raises(CorruptionError, match="table name needs 2147483648 bytes"):
        decode_write(huge)

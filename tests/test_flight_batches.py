"""Cutting results into bounded record batches for DoGet (``bounded_table``).

The oracle is the input table itself: the cut table must hold the same rows in the
same order, share its buffers (zero-copy), and no batch may exceed the bound by more
than one row.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from tsengine.flight.queries import bounded_table, fixed_row_bytes


def _fixed(n: int, chunks: int = 1) -> pa.Table:
    times = pa.array(np.arange(n, dtype=np.int64), pa.timestamp("ns", "UTC"))
    codes = pa.array(np.arange(n, dtype=np.int32) % 3)
    tags = pa.DictionaryArray.from_arrays(codes, pa.array(["a", "b", "c"]))
    values = pa.array(np.arange(n, dtype=np.float64))
    flags = pa.array(np.arange(n) % 2 == 0)
    table = pa.table({"time": times, "asset": tags, "v": values, "ok": flags})
    step = max(1, -(-n // chunks))
    return pa.Table.from_batches(table.to_batches(max_chunksize=step), table.schema)


def _addresses(table: pa.Table) -> set[int]:
    return {
        buf.address
        for column in table.columns
        for chunk in column.chunks
        for buf in chunk.buffers()
        if buf is not None
    }


def test_fixed_row_bytes_counts_values_and_validity_bits():
    schema = _fixed(1).schema
    # 64-bit time, int32 dictionary index, 64-bit float, 1-bit bool; 1 validity bit each
    assert fixed_row_bytes(schema) == (65 + 33 + 65 + 2) / 8
    assert fixed_row_bytes(pa.schema([("s", pa.string())])) is None


@pytest.mark.parametrize("chunks", [1, 3, 40])
def test_fixed_width_table_is_cut_into_bounded_zero_copy_slices(chunks):
    n = 200_000
    table = _fixed(n, chunks)
    bound = 64 * 1024
    row = fixed_row_bytes(table.schema)
    cut = bounded_table(table, bound)
    assert cut.equals(table)
    batches = cut.to_batches()
    assert all(b.num_rows * row <= bound + row for b in batches)
    # what goes on the wire: the IPC message of each batch (dictionaries go apart)
    assert max(pa.ipc.get_record_batch_size(b) for b in batches) <= bound + 1024
    assert sum(b.num_rows for b in batches) == n
    # every buffer of the cut table lies inside the original's buffers
    original = [
        (buf.address, buf.address + buf.size)
        for column in table.columns
        for chunk in column.chunks
        for buf in chunk.buffers()
        if buf is not None
    ]
    for address in _addresses(cut):
        assert any(lo <= address < hi for lo, hi in original)


def test_small_enough_table_is_returned_as_is():
    table = _fixed(1000, 4)
    assert bounded_table(table, 1 << 20) is table


def test_variable_width_table_is_cut_by_measured_batch_size():
    n = 50_000
    words = pa.array([f"word-{i}" * (1 + i % 5) for i in range(n)])
    table = pa.table({"time": pa.array(np.arange(n, dtype=np.int64)), "s": words})
    bound = 32 * 1024
    cut = bounded_table(table, bound)
    assert cut.equals(table)
    batches = cut.to_batches()
    assert len(batches) >= table.nbytes // bound
    assert max(pa.ipc.get_record_batch_size(b) for b in batches) <= 2 * bound


def test_empty_table_stays_empty():
    table = _fixed(0)
    cut = bounded_table(table, 1024)
    assert cut.num_rows == 0 and cut.schema == table.schema

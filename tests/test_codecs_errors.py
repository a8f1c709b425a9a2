"""Errors name what is wrong: the bad value on encode, source and offset on decode."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from tsengine import codecs
from tsengine.codecs import _frame
from tsengine.errors import CorruptionError, SchemaError


def reseal(block: bytearray) -> bytes:
    crc = zlib.crc32(bytes(block[9:]), zlib.crc32(bytes(block[:5])))
    block[5:9] = crc.to_bytes(4, "little")
    return bytes(block)


@pytest.mark.parametrize(
    "call, text",
    [
        (lambda: codecs.encode_column(np.arange(3), kind="float64"), "dtype('int64')"),
        (lambda: codecs.encode_column(np.arange(3.0), kind="float"), "'float'"),
        (
            lambda: codecs.encode_column(np.arange(3.0), kind="float64", codec="zip"),
            "'zip'",
        ),
        (
            lambda: codecs.encode_column(
                np.arange(3.0), np.ones(2, bool), kind="float64"
            ),
            "2 flags for 3 values",
        ),
        (
            lambda: codecs.encode_column(np.array(["a", 3], object), kind="string"),
            "holds 3",
        ),
        (lambda: codecs.encode_time(np.array([0, 1, 5]), "step"), "arithmetic"),
        (
            lambda: codecs.encode_column(np.zeros(3, np.int32), kind="time"),
            "dtype('int32')",
        ),
    ],
)
def test_bad_input_names_the_value(call, text):
    with pytest.raises(SchemaError) as info:
        call()
    assert text in str(info.value)
    assert isinstance(info.value, ValueError)


def test_checksum_failure_names_source_and_absolute_offset():
    block = bytearray(codecs.encode_alp(np.sqrt(np.arange(100.0)), "alp"))
    block[len(block) // 2] ^= 0x01
    with pytest.raises(CorruptionError) as info:
        codecs.decode_column(bytes(block), source="seg-0001.tse", offset=4096)
    message = str(info.value)
    assert message.startswith("seg-0001.tse: corrupt alp block at byte offset 4101")
    assert "checksum" in message
    assert isinstance(info.value, OSError)


def test_truncated_block_is_reported_not_decoded():
    block = codecs.encode_time(np.arange(5000, dtype=np.int64) ** 2)
    for cut in (0, 3, 9, 12, len(block) // 2, len(block) - 1):
        with pytest.raises(CorruptionError, match="wal.log: corrupt"):
            codecs.decode_column(block[:cut], source="wal.log", offset=0)


def test_payload_defect_points_inside_the_payload():
    # A correct checksum over a damaged exception count: the payload parser finds it.
    x = np.r_[np.arange(1024) / 100, np.pi]
    block = bytearray(codecs.encode_alp(x, "alp", delta=False))
    start = _frame.parse(block, "test", 0).payload_at.offset
    counts_at = start + 8 * 2  # after two vector bases: the first exception count
    block[counts_at : counts_at + 2] = (5000).to_bytes(2, "little")
    with pytest.raises(CorruptionError) as info:
        codecs.decode_column(reseal(block), source="chunk", offset=100)
    assert "chunk: corrupt alp block at byte offset" in str(info.value)
    assert "exceptions=5000" in str(info.value)


def test_wrong_codec_for_single_codec_decoder():
    block = codecs.encode_gorilla(np.arange(10.0))
    with pytest.raises(CorruptionError, match="expected one of \\('alp', 'alp-rd'\\)"):
        codecs.decode_alp(block, source="x")


def test_codec_name_reads_only_the_header():
    assert codecs.codec_name(codecs.encode_bool(np.zeros(10_000, bool))) == "runs"
    with pytest.raises(CorruptionError):
        codecs.codec_name(b"not a block")

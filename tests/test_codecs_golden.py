"""Committed golden bytes guard every codec's on-disk format.

Each case encodes a small input built from integer arithmetic (no RNG, no libm, so the
input is the same everywhere) and compares the block with ``tests/golden/codecs/``.
A failure here means the format changed: old segment files would no longer read. If
that is intended, bump ``_frame.VERSION`` (keeping a reader for the old one) and
regenerate with ``TSENGINE_REGEN_GOLDEN=1 pytest tests/test_codecs_golden.py``.

zstd's output may change between zstd releases without any format change of ours, so
for zstd-wrapped blocks the inflated payload is compared instead of the stored bytes.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from tsengine import codecs
from tsengine.codecs import _frame

GOLDEN = Path(__file__).parent / "golden" / "codecs"
REGEN = os.environ.get("TSENGINE_REGEN_GOLDEN") == "1"

IDX = np.arange(3000, dtype=np.int64)
DECIMALS = ((IDX * 37) % 1000 - 500) / 100.0  # two-decimal values, exact division
WALK = np.cumsum((IDX * 7919) % 11 - 5) / 1000.0 + 87.5
DRIFT = np.cumsum((IDX * 7919) % 11 - 4) / 1000.0 + 87.5  # steps narrower than range
REALS = ((IDX * 7919) % 10007) / 10007.0 * 3.0  # not short decimals: ALP-RD
SPECIAL = np.array(
    [0x8000000000000000, 0x7FF0000000000001, 0xFFF0000000000000, 1, 0x7FEFFFFFFFFFFFFF],
    dtype=np.uint64,
).view(np.float64)
CLOCK = 1_600_000_000_000_000_000 + IDX * 1_000_000_000
JITTER = CLOCK + np.where(IDX % 97 == 0, 3_000_000_000, 0) + (IDX * 13) % 5
EXTREMES = np.array([np.iinfo(np.int64).min, np.iinfo(np.int64).max, 0, -1, 7] * 9)
LEVELS = np.repeat(np.array([1.25, 0.0, 3.5, 0.0, 1.25]), 600)
FLAGS = (IDX // 250) % 2 == 0
VALID = (IDX % 11) != 3
WORDS = np.array([["idle", "run", "fault", "run"][i % 4] for i in range(300)], object)


def float_column(x, codec, validity=None):
    return codecs.encode_column(x, validity, kind="float64", codec=codec)


CASES = {
    "time_step": lambda: codecs.encode_time(CLOCK, "step"),
    "time_delta": lambda: codecs.encode_time(JITTER, "delta"),
    "time_dod": lambda: codecs.encode_time(JITTER, "dod"),
    "time_raw": lambda: codecs.encode_time(CLOCK[:40], "raw"),
    "int_for": lambda: codecs.encode_int(EXTREMES, "for"),
    "int_delta": lambda: codecs.encode_int(IDX * 3 - 100, "delta"),
    "int_rle": lambda: codecs.encode_int(IDX // 100, "rle"),
    "uint_for": lambda: codecs.encode_int(EXTREMES.view(np.uint64), "for"),
    "alp": lambda: codecs.encode_alp(np.r_[DECIMALS, SPECIAL], "alp"),
    "alp_walk": lambda: codecs.encode_alp(WALK, "alp"),
    "alp_delta": lambda: codecs.encode_alp(np.r_[DRIFT, SPECIAL], "alp"),
    "alp_rd": lambda: codecs.encode_alp(np.r_[REALS, SPECIAL], "alp-rd"),
    "gorilla": lambda: codecs.encode_gorilla(np.r_[WALK[:500], SPECIAL]),
    "chimp128": lambda: codecs.encode_chimp128(np.r_[WALK[:500], SPECIAL]),
    "float_dict": lambda: float_column(LEVELS, "dict"),
    "float_raw": lambda: float_column(SPECIAL, "raw"),
    "bool_bitmap": lambda: codecs.encode_bool(FLAGS, "bitmap"),
    "bool_runs": lambda: codecs.encode_bool(FLAGS, "runs"),
    "column_nulls": lambda: float_column(DECIMALS, "alp", VALID),
    "column_zstd": lambda: float_column(LEVELS, "alp+zstd", VALID),
    "string_dict": lambda: codecs.encode_string(WORDS),
}


def _inflated(block: bytes) -> tuple[int, int, int, bytes | None, bytes]:
    frame = _frame.parse(block, "golden", 0)
    payload, _ = _frame.inflate(frame)
    validity = None if frame.validity is None else bytes(frame.validity)
    return frame.codec, frame.kind, frame.count, validity, bytes(payload)


@pytest.mark.parametrize("name", sorted(CASES))
def test_encoding_matches_golden_bytes(name):
    block = CASES[name]()
    path = GOLDEN / f"{name}.bin"
    if REGEN:
        GOLDEN.mkdir(parents=True, exist_ok=True)
        path.write_bytes(block)
        pytest.skip(f"regenerated {path}")
    assert path.exists(), f"golden file {path} is missing"
    golden = path.read_bytes()
    if _frame.parse(golden, "golden", 0).zstd_raw_len >= 0:
        assert _inflated(block) == _inflated(golden)
    else:
        assert block == golden


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_bytes_decode_to_the_input(name):
    golden = (GOLDEN / f"{name}.bin").read_bytes()
    fresh_values, fresh_validity = codecs.decode_column(CASES[name]())
    values, validity = codecs.decode_column(golden, source=f"{name}.bin")
    assert values.dtype == fresh_values.dtype
    if values.dtype == object:
        assert list(values) == list(fresh_values)
    else:
        assert values.tobytes() == fresh_values.tobytes()
    assert (validity is None) == (fresh_validity is None)
    if validity is not None:
        assert np.array_equal(validity, fresh_validity)


def test_golden_inputs_are_what_the_cases_claim():
    # Guards the fixtures themselves: the codecs under test are the named ones.
    names = {n: codecs.codec_name((GOLDEN / f"{n}.bin").read_bytes()) for n in CASES}
    assert names["alp"] == "alp" and names["alp_rd"] == "alp-rd"
    assert names["column_zstd"] == "alp+zstd" and names["string_dict"] == "dict+zstd"
    assert names["time_step"] == "step" and names["bool_runs"] == "runs"
    delta = _frame.parse((GOLDEN / "alp_delta.bin").read_bytes(), "golden", 0)
    exps, facs = bytes(delta.payload)[30:33], bytes(delta.payload)[33:36]
    assert all(e & 0x80 and (e & 0x7F) - f == 3 for e, f in zip(exps, facs))
    values, validity = codecs.decode_column((GOLDEN / "alp.bin").read_bytes())
    assert values[:3000].tobytes() == DECIMALS.tobytes()
    assert values[3000:].view(np.uint64).tolist() == SPECIAL.view(np.uint64).tolist()

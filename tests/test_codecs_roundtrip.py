"""Round trips of every codec over adversarial inputs, compared bit for bit.

Floats are drawn as raw bit patterns (every NaN payload, subnormal, -0.0), as decimal
random walks (what ALP is built for), as runs, and as mixtures with the extremes
sprinkled in. Integers cover the whole int64/uint64 range, steps across it, and
near-regular clocks with gaps. The oracle is the input itself: ``decoded.view(uint64) ==
original.view(uint64)`` everywhere.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tsengine import codecs
from tsengine.codecs import column

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

I64 = np.iinfo(np.int64)
SPECIAL_BITS = [
    0x0000000000000000,  # 0.0
    0x8000000000000000,  # -0.0
    0x7FF0000000000000,  # inf
    0xFFF0000000000000,  # -inf
    0x7FF8000000000000,  # quiet NaN
    0x7FF0000000000001,  # signalling NaN, payload 1
    0xFFF4000000ABCDEF,  # negative signalling NaN with payload
    0x7FFFFFFFFFFFFFFF,  # NaN, all payload bits
    0x0000000000000001,  # smallest subnormal
    0x800FFFFFFFFFFFFF,  # largest negative subnormal
    0x0010000000000000,  # smallest normal
    0x7FEFFFFFFFFFFFFF,  # largest double
    0xFFEFFFFFFFFFFFFF,  # most negative double
    0x3FB999999999999A,  # 0.1
]


def bits_equal(a: np.ndarray, b: np.ndarray) -> bool:
    """Same dtype, shape and bytes (so NaN payloads and -0.0 count)."""
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@st.composite
def float_arrays(draw) -> np.ndarray:
    """float64 arrays of one of several adversarial shapes, 0 to ~3000 values."""
    shape = draw(st.sampled_from(["bits", "walk", "runs", "mixed", "specials"]))
    n = draw(st.integers(0, 3000))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if shape == "bits":
        return rng.integers(0, 2**64 - 1, n, dtype=np.uint64, endpoint=True).view(
            np.float64
        )
    if shape == "specials":
        return np.array(SPECIAL_BITS, dtype=np.uint64)[
            rng.integers(0, len(SPECIAL_BITS), n)
        ].view(np.float64)
    decimals = draw(st.integers(0, 8))
    scale = 10.0 ** draw(st.integers(-6, 9))
    walk = np.round(np.cumsum(rng.normal(size=n)) * scale, decimals)
    if shape == "runs":
        walk = np.repeat(walk[: max(1, n // 50)], 50)[:n]
    if shape == "mixed" and n:
        k = draw(st.integers(1, max(1, n // 10)))
        pos = rng.integers(0, n, k)
        walk[pos] = np.array(SPECIAL_BITS, dtype=np.uint64)[
            rng.integers(0, len(SPECIAL_BITS), k)
        ].view(np.float64)
    return walk


@st.composite
def int_arrays(draw) -> np.ndarray:
    """int64 arrays: uniform over the range, extremes, clocks with gaps, runs."""
    shape = draw(st.sampled_from(["uniform", "extremes", "clock", "runs", "small"]))
    n = draw(st.integers(0, 3000))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if shape == "uniform":
        return rng.integers(I64.min, I64.max, n, dtype=np.int64, endpoint=True)
    if shape == "extremes":
        pool = np.array([I64.min, I64.max, 0, -1, 1, I64.min + 1, I64.max - 1])
        return pool[rng.integers(0, len(pool), n)].astype(np.int64)
    if shape == "clock":
        start = draw(st.integers(I64.min, I64.max))
        step = draw(st.integers(-(2**40), 2**40))
        t = np.full(n, step, dtype=np.int64)
        if n:
            t[0] = start
            gaps = rng.integers(0, n, draw(st.integers(0, 5)))
            t[gaps] += rng.integers(-(2**62), 2**62, len(gaps))
        return np.cumsum(t)  # wraps silently, which the codecs must survive
    if shape == "runs":
        return np.repeat(rng.integers(-5, 5, max(1, n // 20)), 20)[:n].astype(np.int64)
    return rng.integers(-1000, 1000, n).astype(np.int64)


# -- floats ------------------------------------------------------------------------

FLOAT_CODECS = [
    (lambda x: codecs.encode_alp(x), codecs.decode_alp),
    (lambda x: codecs.encode_alp(x, "alp"), codecs.decode_alp),
    (lambda x: codecs.encode_alp(x, "alp-rd"), codecs.decode_alp),
    (codecs.encode_gorilla, codecs.decode_gorilla),
    (codecs.encode_chimp128, codecs.decode_chimp128),
]


@SETTINGS
@given(float_arrays())
def test_float_codecs_round_trip_bit_exact(x):
    for encode, decode in FLOAT_CODECS:
        assert bits_equal(decode(encode(x)), x)


@SETTINGS
@given(float_arrays(), st.sampled_from(column.CODECS_BY_KIND["float64"] + ("auto",)))
def test_float_column_round_trip_every_codec(x, codec):
    for suffix in ("", "+zstd") if codec != "auto" else ("",):
        values, validity = codecs.decode_column(
            codecs.encode_column(x, kind="float64", codec=codec + suffix)
        )
        assert validity is None
        assert bits_equal(values, x)


def test_every_special_value_through_every_float_codec():
    x = np.array(SPECIAL_BITS * 3, dtype=np.uint64).view(np.float64)
    for codec in column.CODECS_BY_KIND["float64"]:
        values, _ = codecs.decode_column(
            codecs.encode_column(x, kind="float64", codec=codec)
        )
        assert bits_equal(values, x), codec


# -- integers ----------------------------------------------------------------------


@SETTINGS
@given(int_arrays(), st.sampled_from(["auto", "raw", "for", "delta", "dod", "rle"]))
def test_time_and_int_codecs_round_trip(v, codec):
    assert np.array_equal(codecs.decode_time(codecs.encode_time(v, codec)), v)
    assert np.array_equal(codecs.decode_int(codecs.encode_int(v, codec)), v)
    u = v.view(np.uint64)
    back = codecs.decode_int(codecs.encode_int(u, codec))
    assert back.dtype == np.uint64 and np.array_equal(back, u)


@pytest.mark.parametrize(
    "v",
    [
        [I64.min, I64.max],
        [I64.max, I64.min, I64.max, I64.min],
        [0, I64.max, I64.min, -1],
        [I64.min] * 5,
        [-1, 0, 1],
    ],
)
def test_jumps_across_the_whole_range(v):
    v = np.array(v, dtype=np.int64)
    for codec in ("auto", "step", "for", "delta", "dod", "rle", "raw"):
        try:
            block = codecs.encode_time(v, codec)
        except ValueError:
            assert codec == "step"  # only arithmetic sequences fit "step"
            continue
        assert np.array_equal(codecs.decode_time(block), v), codec


def test_step_holds_a_sequence_that_wraps_around():
    # Steps of 2**62 from INT64_MAX wrap modulo 2**64, exactly as int64 addition does.
    v = np.cumsum(np.r_[I64.max, np.full(9, 2**62)].astype(np.int64))
    block = codecs.encode_time(v)
    assert codecs.codec_name(block) == "step"
    assert np.array_equal(codecs.decode_time(block), v)


# -- bool, string, validity ------------------------------------------------------------


@SETTINGS
@given(st.lists(st.booleans(), max_size=3000), st.integers(1, 400))
def test_bool_codecs_round_trip(flags, run):
    v = np.repeat(np.array(flags, dtype=bool), run)[:5000]
    for codec in ("auto", "bitmap", "runs"):
        assert np.array_equal(codecs.decode_bool(codecs.encode_bool(v, codec)), v)


@SETTINGS
@given(st.lists(st.text(max_size=12), max_size=400))
def test_string_round_trip_any_unicode(words):
    v = np.array(words, dtype=object)
    out = codecs.decode_string(codecs.encode_string(v))
    assert out.dtype == object and list(out) == words


KIND_VALUES = {
    "time": int_arrays(),
    "int64": int_arrays(),
    "uint64": int_arrays().map(lambda a: a.view(np.uint64)),
    "float64": float_arrays(),
    "bool": int_arrays().map(lambda a: a % 3 == 0),
    "string": int_arrays().map(
        lambda a: np.array([f"s{x % 17}" for x in a], dtype=object)
    ),
}


@SETTINGS
@given(st.data(), st.sampled_from(sorted(KIND_VALUES)))
def test_column_with_nulls_keeps_present_values_and_validity(data, kind):
    values = data.draw(KIND_VALUES[kind])
    n = len(values)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    validity = rng.random(n) < data.draw(st.sampled_from([0.0, 0.05, 0.5, 0.95, 1.0]))
    out, valid = codecs.decode_column(codecs.encode_column(values, validity, kind=kind))
    if validity.all():
        assert valid is None
        valid = validity
    assert np.array_equal(valid, validity)
    assert len(out) == n
    if kind == "float64":
        assert bits_equal(out[valid], values[validity])
    else:
        assert list(out[valid]) == list(values[validity])
    # Null slots hold the documented filler, never a stale value.
    nulls = out[~valid]
    if kind == "string":
        assert all(v is None for v in nulls)
    else:
        assert bits_equal(nulls, np.zeros(len(nulls), dtype=out.dtype))


def test_null_is_not_nan():
    x = np.array([np.nan, 1.0, np.nan])
    validity = np.array([True, False, True])
    out, valid = codecs.decode_column(codecs.encode_column(x, validity, kind="float64"))
    assert valid.tolist() == [True, False, True]
    assert np.isnan(out[0]) and np.isnan(out[2]) and out[1] == 0.0


def test_pyarrow_string_nulls_become_validity():
    arr = pa.array(["a", None, "b", None])
    out, valid = codecs.decode_column(codecs.encode_column(arr, kind="string"))
    assert out.tolist() == ["a", None, "b", None]
    assert valid.tolist() == [True, False, True, False]

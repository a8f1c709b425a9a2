"""The sampled float chooser: exact round trips, and sizes close to trying everything.

Chunks longer than ``SAMPLE_VECTORS`` vectors are judged on a sample (see
``tsengine.codecs.float_choice``). The oracle is the exhaustive path, which encodes
every candidate in full: the sampled choice must round-trip bit for bit and stay
within a few percent of it, including on chunks whose halves look nothing alike.
"""

from __future__ import annotations

import numpy as np
import pytest

from tsengine import codecs
from tsengine.codecs import _frame, float_choice, float_dict

N = 30_000  # about 30 vectors: well past the sample
RNG = np.random.default_rng(11)
WALK = np.round(20 + np.cumsum(RNG.normal(0, 0.05, N)), 2)
LEVELS = np.repeat(RNG.choice([0.0, 1.5, 3.25, 7.0], size=N // 50), 50)[:N]

CASES = {
    "decimal walk": WALK,
    "levels (runs)": LEVELS,
    "constant": np.full(N, 21.6),
    "two levels flickering": np.where(RNG.random(N) < 0.1, 21.61, 21.6),
    "uniform reals": RNG.uniform(-np.pi, np.pi, N),
    "decimals then reals": np.r_[WALK[: N // 2], RNG.uniform(0, 1, N - N // 2)],
    "reals then levels": np.r_[RNG.uniform(0, 1, N // 3), LEVELS[: N - N // 3]],
    "few wide levels": RNG.choice(RNG.uniform(0, 1e6, 300), N),
    "specials": np.resize(
        np.array([np.nan, -0.0, 0.0, np.inf, -np.inf, 5e-324, 1.7976931348623157e308]),
        N,
    ),
    "one vector past the sample": WALK[: 8 * 1024 + 1],
    "repeating cycle (zstd pays)": np.tile(WALK[:3000], N // 3000),
}


def _exhaustive_bytes(x: np.ndarray) -> int:
    limit = min(int(float_dict.MAX_DISTINCT_SHARE * len(x)), float_dict.MAX_ENTRIES)
    name, payload, raw_len = float_choice._exhaustive(x, limit, "try")
    return len(_frame.build(name, "float64", len(x), payload, None, raw_len))


@pytest.mark.parametrize("name", list(CASES))
def test_sampled_choice_round_trips_and_stays_close(name):
    x = np.ascontiguousarray(CASES[name])
    block = codecs.encode_column(x, kind="float64")
    out, validity = codecs.decode_column(block)
    assert validity is None
    assert out.tobytes() == x.tobytes()
    # Never much worse than encoding every candidate in full
    assert len(block) <= 1.03 * _exhaustive_bytes(x) + 16


def test_sampled_choice_with_nulls():
    x = WALK.copy()
    valid = RNG.random(N) > 0.2
    block = codecs.encode_column(x, valid, kind="float64")
    out, validity = codecs.decode_column(block)
    assert np.array_equal(validity, valid)
    assert out[valid].tobytes() == x[valid].tobytes()


def test_sample_spans_are_whole_spread_vectors():
    spans = float_choice._spans(100_000)
    assert len(spans) == float_choice.SAMPLE_VECTORS
    assert spans[0] == (0, 1024)
    assert all(lo % 1024 == 0 and hi - lo == 1024 for lo, hi in spans[:-1])
    assert spans[-1][0] >= 80_000  # reaches the end of the chunk


def test_zstd_always_is_honoured():
    block = codecs.encode_column(WALK, kind="float64", codec="auto+zstd")
    assert codecs.codec_name(block).endswith("+zstd")
    out, _ = codecs.decode_column(block)
    assert out.tobytes() == WALK.tobytes()

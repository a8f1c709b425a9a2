"""Codec throughput (pytest-benchmark), each next to a baseline in the same run.

Run from the repository root:
``python -m pytest benchmarks/bench_codecs.py --benchmark-columns=min,median,ops``.
Every case records ``MB_per_s`` (decoded bytes over the best round) in
``extra_info``; compare ALP with the zstd and numpy-copy rows of the same run rather
than with figures from another machine. All kernels run on one core.

Data: the elf floatbench series concatenated (about 1 M decimal sensor values, the
case ALP is built for), 1 M uniform reals (the ALP-RD fallback), and 1 M timestamps of a
1 Hz clock with gaps.
"""

from __future__ import annotations

import numpy as np
import pytest
import zstandard
from compression_table import floatbench_series  # noqa: E402  (run from benchmarks/)

from tsengine import codecs


@pytest.fixture(scope="session")
def decimals() -> np.ndarray:
    parts = [s.values for s in floatbench_series() if s.name.startswith("elf/")]
    return np.ascontiguousarray(np.concatenate(parts))


@pytest.fixture(scope="session")
def reals() -> np.ndarray:
    return np.random.default_rng(1).uniform(-np.pi, np.pi, 1_000_000)


@pytest.fixture(scope="session")
def clock() -> np.ndarray:
    t = np.full(1_000_000, 10**9, dtype=np.int64)
    t[::5000] = 61 * 10**9  # a gap every 5000 points
    t[0] = 1_700_000_000 * 10**9
    return np.cumsum(t)


def _run(benchmark, fn, nbytes: int, group: str):
    benchmark.group = group
    result = benchmark(fn)
    benchmark.extra_info["MB_per_s"] = nbytes / benchmark.stats.stats.min / 1e6
    return result


# -- floats: encode ------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, encode",
    [
        ("alp", lambda x: codecs.encode_alp(x)),
        ("auto", lambda x: codecs.encode_column(x, kind="float64")),
        ("gorilla", codecs.encode_gorilla),
        ("chimp128", codecs.encode_chimp128),
        ("zstd3 (baseline)", lambda x: zstandard.ZstdCompressor(3).compress(x.data)),
        ("numpy copy (baseline)", lambda x: x.copy()),
    ],
)
def test_encode_decimals(benchmark, decimals, name, encode):
    _run(benchmark, lambda: encode(decimals), decimals.nbytes, "encode decimals")


@pytest.mark.parametrize(
    "name, encode",
    [
        ("alp (rd)", lambda x: codecs.encode_alp(x)),
        ("zstd3 (baseline)", lambda x: zstandard.ZstdCompressor(3).compress(x.data)),
    ],
)
def test_encode_reals(benchmark, reals, name, encode):
    _run(benchmark, lambda: encode(reals), reals.nbytes, "encode reals")


# -- floats: decode ------------------------------------------------------------------


def _zstd_blob(x: np.ndarray) -> bytes:
    return zstandard.ZstdCompressor(3).compress(x.tobytes())


@pytest.mark.parametrize(
    "name, encode, decode",
    [
        ("alp", codecs.encode_alp, codecs.decode_alp),
        (
            "auto",
            lambda x: codecs.encode_column(x, kind="float64"),
            codecs.decode_column,
        ),
        ("gorilla", codecs.encode_gorilla, codecs.decode_gorilla),
        ("chimp128", codecs.encode_chimp128, codecs.decode_chimp128),
        ("zstd3 (baseline)", _zstd_blob, zstandard.ZstdDecompressor().decompress),
        ("numpy copy (baseline)", lambda x: x, np.copy),
    ],
)
def test_decode_decimals(benchmark, decimals, name, encode, decode):
    blob = encode(decimals)
    _run(benchmark, lambda: decode(blob), decimals.nbytes, "decode decimals")


@pytest.mark.parametrize(
    "name, encode, decode",
    [
        ("alp (rd)", codecs.encode_alp, codecs.decode_alp),
        ("zstd3 (baseline)", _zstd_blob, zstandard.ZstdDecompressor().decompress),
    ],
)
def test_decode_reals(benchmark, reals, name, encode, decode):
    blob = encode(reals)
    _run(benchmark, lambda: decode(blob), reals.nbytes, "decode reals")


# -- timestamps ---------------------------------------------------------------------


def test_time_encode(benchmark, clock):
    _run(benchmark, lambda: codecs.encode_time(clock), clock.nbytes, "time")


def test_time_decode(benchmark, clock):
    block = codecs.encode_time(clock)
    out = _run(benchmark, lambda: codecs.decode_time(block), clock.nbytes, "time")
    assert np.array_equal(out, clock)


def test_time_zstd_baseline(benchmark, clock):
    blob = _zstd_blob(clock)
    decode = zstandard.ZstdDecompressor().decompress
    _run(benchmark, lambda: decode(blob), clock.nbytes, "time")

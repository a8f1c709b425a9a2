"""Shortcuts the sealing-time encoders take, against slow references that take none.

The compactor encodes many small chunks, so the encoders skip work: ALP's pair search
stops pricing a pair once it cannot win, ALP-RD prices its cuts once per chunk from
runs of the sample's top bits, the integer chooser computes differences once, and
zstd compressors are reused per thread. Each reference below follows the plain
algorithm with Python integers and floats and shares no code with the kernels, so a
shortcut that changes any choice (and with it a stored byte) fails here.
"""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest
import zstandard

from tsengine.codecs import _alp_kernels as K
from tsengine.codecs import _alp_rd_kernels as RD
from tsengine.codecs import _pfor, alp, integers, strings

VECTOR = 1024
_MAGIC = 6755399441055744.0
_LIMIT = 2251799813685248.0


def _arrays(seed: int) -> list[np.ndarray]:
    """Float arrays of the shapes the chooser meets: decimals, noise, constants,
    special values, few levels, arbitrary bit patterns, and tiny lengths."""
    rng = np.random.default_rng(seed)
    n = 1500
    special = rng.random(n)
    special[::7] = np.nan
    special[::11] = -0.0
    special[::13] = np.inf
    return [
        np.round(rng.normal(20, 3, n), 2),
        np.round(np.cumsum(rng.normal(size=n)), 3),
        rng.random(n),
        rng.normal(size=n) * 1e9,
        np.full(n, 3.25),
        special,
        rng.choice([0.0, 1.5, 2.25, -7.0], n),
        rng.integers(0, 2**63, n).view(np.float64),
        (rng.random(n) * 180 - 90) * np.pi / 180,
        np.array([0.1]),
        np.array([1.0, 2.0, 2.5]),
        np.round(rng.random(40) * 1000, 1),
        # nine left parts, equally frequent: an 8-entry dictionary must break ties
        (
            (np.arange(n, dtype=np.uint64) % 9 + 1) << np.uint64(60)
            | rng.integers(0, 2**48, n).astype(np.uint64)
        ).view(np.float64),
    ]


# -- ALP: first sampling level ---------------------------------------------------


def _ref_sample_cost(x: list[float], bits: list[int], lo, m, e, f) -> int:
    """Bits for ``m`` values under (e, f) from an evenly spaced sample, priced in
    full: width of the digit range plus 80 bits per exception, scaled."""
    count = min(m, K.SAMPLE_VALUES)
    step = max(1, m // count)
    digits, exc = [], 0
    for k in range(count):
        i = lo + k * step
        s = x[i] * 10.0**e * float(f"1e-{f}")
        if not -_LIMIT < s < _LIMIT:
            exc += 1
            continue
        d = int((s + _MAGIC) - _MAGIC)
        back = float(d) * 10.0**f * float(f"1e-{e}")
        if back == x[i] and bits[i] != 1 << 63:
            digits.append(d)
        else:
            exc += 1
    width = (max(digits) - min(digits)).bit_length() if digits else 0
    return m * width + (exc * m * K.EXC_BITS) // count


def _ref_top_combos(x: np.ndarray) -> tuple[list[list[int]], float]:
    """ALP's first level as the paper describes it: every (e, f) pair priced on
    every sampled vector; the most frequent winners, ties to the cheaper total."""
    n = len(x)
    values, bits = x.tolist(), x.view(np.uint64).tolist()
    nvec = -(-n // VECTOR)
    picks = min(nvec, K.SAMPLE_VECTORS)
    wins: dict[tuple[int, int], int] = {}
    costs: dict[tuple[int, int], int] = {}
    total = 0
    for s in range(picks):
        lo = (s * nvec) // picks * VECTOR
        m = min(n, lo + VECTOR) - lo
        pairs = [(e, f) for e in range(K.MAX_E, -1, -1) for f in range(e, -1, -1)]
        priced = [(_ref_sample_cost(values, bits, lo, m, e, f), e, f) for e, f in pairs]
        best = min(c for c, _, _ in priced)
        _, be, bf = next(p for p in priced if p[0] == best)  # first of the cheapest
        wins[be, bf] = wins.get((be, bf), 0) + 1
        costs[be, bf] = costs.get((be, bf), 0) + best
        total += best
    # Rank by wins, then by cheaper cost, then by the smaller (e, f).
    ranked = sorted(wins, key=lambda p: (-wins[p], costs[p], p))[: K.TOP_K]
    return [list(p) for p in ranked], total / max(1, picks) / VECTOR


@pytest.mark.parametrize("case", range(13))
def test_alp_pair_search_matches_full_pricing(case: int) -> None:
    x = np.ascontiguousarray(_arrays(7)[case])
    combos, bits = K._top_combos(x, x.view(np.uint64))
    want_combos, want_bits = _ref_top_combos(x)
    assert combos.tolist() == want_combos
    assert bits == want_bits


def test_alp_pair_search_matches_on_every_sampled_vector() -> None:
    """Eight vectors, each of a different character, so every one has its own
    winner and the early stop meets many different bounds."""
    rng = np.random.default_rng(11)
    parts = [np.round(rng.normal(0, 10**k, VECTOR), k % 5) for k in range(8)]
    x = np.concatenate(parts)
    combos, bits = K._top_combos(x, x.view(np.uint64))
    want_combos, want_bits = _ref_top_combos(x)
    assert combos.tolist() == want_combos
    assert bits == want_bits


# -- ALP-RD: the cut and the dictionary ------------------------------------------


def _ref_rd_choose(x: np.ndarray) -> tuple[int, int, list[int], float]:
    """ALP-RD's choice from a sorted sample: for every cut, the distinct left parts
    in order and their counts, the 2**b most frequent (earlier first on ties)."""
    bits = x.view(np.uint64).tolist()
    n = len(bits)
    count = min(n, RD.SAMPLE)
    sample = sorted(bits[(k * n) // count] for k in range(count))
    best = (1e300, 48, 0, [0])
    for left in range(1, RD.MAX_LEFT + 1):
        r = 64 - left
        runs: list[list[int]] = []
        for v in sample:
            if runs and runs[-1][0] == v >> r:
                runs[-1][1] += 1
            else:
                runs.append([v >> r, 1])
        top = sorted(runs, key=lambda run: -run[1])[: 1 << RD.MAX_INDEX_BITS]
        top += [[0, 0]] * ((1 << RD.MAX_INDEX_BITS) - len(top))
        for b in range(RD.MAX_INDEX_BITS + 1):
            size = 1 << b
            covered = sum(c for _, c in top[:size])
            exc_rate = (count - covered) / count
            price = r + b + exc_rate * RD.EXC_BITS + size * 16.0 / n
            if price < best[0]:
                best = (price, r, b, [v for v, _ in top[:size]])
    return best[1], best[2], best[3], best[0]


@pytest.mark.parametrize("case", range(13))
@pytest.mark.parametrize("length", [1, 100, 2048, 5000])
def test_alp_rd_choice_matches_sorted_sample(case: int, length: int) -> None:
    x = np.resize(_arrays(3)[case], length)
    r, b, dictionary, price = RD._choose(x.view(np.uint64))
    assert (r, b, dictionary.tolist(), price) == _ref_rd_choose(x)


# -- integers: one pass of differences -------------------------------------------


def _ref_gcd(d: np.ndarray) -> int:
    """The divisor rule of the delta codecs: gcd of |d|, 1 past +-2**62 or empty."""
    ints = [int(v) for v in d]
    if not ints or min(ints) <= -(2**62) or max(ints) >= 2**62:
        return 1
    return math.gcd(*ints)


@pytest.mark.parametrize(
    "d",
    [
        [],
        [0, 0, 0],
        [6, -9, 15],
        [10**9, 3 * 10**9, -(10**9)],
        [7],
        [4, 2**62],
        [-(2**62), 4],
        [2**62 - 1, 2],
        [1, 2**63 - 1],
        [12, 18, 1, 2**63 - 1],
    ],
)
def test_gcd_keeps_the_range_rule(d: list[int]) -> None:
    got = int(integers._gcd(np.array(d, dtype=np.int64)))
    assert got == (0 if d and not any(d) else _ref_gcd(np.array(d, dtype=np.int64)))


@pytest.mark.parametrize("kind", ["time", "int64"])
@pytest.mark.parametrize("seed", range(4))
def test_integer_chooser_is_the_smallest_named_codec(kind: str, seed: int) -> None:
    """The chooser (differences computed once) against each codec encoded alone."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 5000))
    for v in (
        np.sort(rng.integers(0, 10**12, n)),
        np.arange(n, dtype=np.int64) * 10**9 + rng.integers(-5, 5, n),
        np.repeat(rng.integers(0, 100, n), 3)[:n],
        rng.integers(-(2**63), 2**63 - 1, n),
        np.full(n, -3, dtype=np.int64),
    ):
        v = v.astype(np.int64)
        name, payload = integers.choose_payload(v, kind)
        if integers.step_of(v) is not None:
            assert (name, payload) == ("step", integers.encode_payload(v, "step"))
            continue
        names = ["raw", "delta", "dod"] if kind == "time" else ["raw", "for", "delta"]
        if kind != "time" and 3 * integers.run_count(v) <= len(v):
            names.append("rle")
        sized = [(name, integers.encode_payload(v, name)) for name in names]
        smallest = min(len(p) for _, p in sized)
        assert (name, payload) == next(c for c in sized if len(c[1]) == smallest)


# -- zstd: one compressor per thread ---------------------------------------------


def test_reused_compressor_writes_the_frames_of_a_new_one() -> None:
    rng = np.random.default_rng(5)
    inputs = [
        b"",
        b"a" * 70,
        rng.integers(0, 4, 100_000, dtype=np.uint8).tobytes(),
        rng.bytes(5000),
        bytes(300),
        rng.integers(0, 16, 3000, dtype=np.uint8).tobytes(),
    ]
    for level in (3, 19, 3):
        for raw in inputs + inputs[::-1]:
            fresh = zstandard.ZstdCompressor(level=level, write_checksum=False)
            assert strings.compress(raw, level) == fresh.compress(raw)


def test_compressors_are_not_shared_between_threads() -> None:
    """Threads compressing at once each get the frame a new compressor writes (a
    shared compressor would mix their state)."""
    rng = np.random.default_rng(6)
    payloads = [rng.integers(0, 8, 20_000, dtype=np.uint8).tobytes() for _ in range(4)]
    fresh = zstandard.ZstdCompressor(level=3, write_checksum=False)
    want = [fresh.compress(p) for p in payloads]
    bad: list[int] = []

    def work(k: int) -> None:
        for _ in range(50):
            if strings.compress(payloads[k]) != want[k]:
                bad.append(k)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert bad == []
    assert zstandard.ZstdDecompressor().decompress(want[0]) == payloads[0]


# -- payloads written by one kernel call -----------------------------------------


@pytest.mark.parametrize("case", range(13))
@pytest.mark.parametrize("length", [1, 100, 1024, 3000])
def test_one_call_writers_match_section_by_section(
    case: int, length: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ALP, ALP-RD and PFOR payloads written by one kernel call equal the payloads
    assembled section by section with explicit little-endian dtypes."""
    x = np.ascontiguousarray(np.resize(_arrays(9)[case], length))
    ints = x.view(np.int64)

    def payloads() -> list[bytes]:
        return [
            alp.encode_alp_payload(x),
            alp.encode_alp_payload(x, delta=False),
            alp.encode_rd_payload(x),
            _pfor.encode(ints),
            _pfor.encode(ints >> 40),
        ]

    fast = payloads()
    monkeypatch.setattr(alp, "NATIVE_IS_FORMAT", False)
    monkeypatch.setattr(_pfor, "NATIVE_IS_FORMAT", False)
    assert payloads() == fast

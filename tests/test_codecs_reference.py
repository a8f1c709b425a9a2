"""Documented byte layouts, decoded by slow pure-Python readers, against the kernels.

Each reader here follows a module docstring of ``tsengine.codecs`` field by field with
Python integers and floats and shares no code with the codecs, so a kernel that
disagrees with its own documentation fails, and so does an encoder that does not
compress what it was built for.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest

from tsengine import codecs
from tsengine.codecs import _frame

VECTOR = 1024


def payload_of(block: bytes) -> tuple[str, int, bytes]:
    """(codec name, row count, payload) of a block without validity or zstd."""
    frame = _frame.parse(block, "test", 0)
    assert frame.validity is None and frame.zstd_raw_len < 0
    return frame.codec_name, frame.count, bytes(frame.payload)


class Bits:
    """Bit reader over little-endian 64-bit words, low bits first."""

    def __init__(self, data: bytes) -> None:
        self.value = int.from_bytes(data, "little")
        self.pos = 0

    def take(self, k: int) -> int:
        out = (self.value >> self.pos) & ((1 << k) - 1)
        self.pos += k
        return out


def ref_pfor(data: bytes, pos: int, m: int) -> tuple[list[int], int]:
    """Patched frame of reference as documented in ``_pfor``."""
    nvec = -(-m // VECTOR)
    bases = struct.unpack_from(f"<{nvec}Q", data, pos)
    widths = data[pos + 8 * nvec : pos + 9 * nvec]
    counts = struct.unpack_from(f"<{nvec}H", data, pos + 9 * nvec)
    pos += 11 * nvec
    out: list[int] = []
    packed = []
    for v in range(nvec):
        length = min(VECTOR, m - v * VECTOR)
        nwords = (length * widths[v] + 63) // 64
        bits = Bits(data[pos : pos + 8 * nwords])
        pos += 8 * nwords
        packed.append(
            [(bits.take(widths[v]) + bases[v]) % 2**64 for _ in range(length)]
        )
    total = sum(counts)
    values = struct.unpack_from(f"<{total}Q", data, pos)
    positions = struct.unpack_from(f"<{total}H", data, pos + 8 * total)
    e = 0
    for v in range(nvec):
        for _ in range(counts[v]):
            packed[v][positions[e]] = values[e]
            e += 1
        out.extend(packed[v])
    return out, pos + 10 * total


def ref_alp(data: bytes, n: int) -> list[int]:
    """ALP payload as documented in ``alp``; returns the uint64 bit patterns."""
    nvec = -(-n // VECTOR)
    bases = struct.unpack_from(f"<{nvec}q", data, 0)
    counts = struct.unpack_from(f"<{nvec}H", data, 8 * nvec)
    exps = data[10 * nvec : 11 * nvec]
    facs = data[11 * nvec : 12 * nvec]
    widths = data[12 * nvec : 13 * nvec]
    ndelta = sum(1 for e in exps if e & 0x80)
    anchors = list(struct.unpack_from(f"<{ndelta}q", data, 13 * nvec))
    pos = 13 * nvec + 8 * ndelta
    vectors = []
    for v in range(nvec):
        length = min(VECTOR, n - v * VECTOR)
        nwords = (length * widths[v] + 63) // 64
        bits = Bits(data[pos : pos + 8 * nwords])
        pos += 8 * nwords
        e, f, is_delta = exps[v] & 0x7F, facs[v], exps[v] & 0x80
        slots = [bits.take(widths[v]) + bases[v] for _ in range(length)]
        if is_delta:
            digits = [anchors.pop(0)]
            for step in slots[1:]:
                digits.append(digits[-1] + step)
        else:
            digits = slots
        out = []
        for digit in digits:
            digit %= 2**64
            digit -= 2**64 if digit >= 2**63 else 0
            # The documented decode: digit * 10**f * 10**-e, in that order.
            x = float(digit) * (10.0**f) * float(f"1e-{e}")
            out.append(struct.unpack("<Q", struct.pack("<d", x))[0])
        vectors.append(out)
    total = sum(counts)
    values = struct.unpack_from(f"<{total}Q", data, pos)
    positions = struct.unpack_from(f"<{total}H", data, pos + 8 * total)
    e = 0
    for v in range(nvec):
        for _ in range(counts[v]):
            vectors[v][positions[e]] = values[e]
            e += 1
    assert pos + 10 * total == len(data)
    return [b for vec in vectors for b in vec]


def ref_gorilla(data: bytes, n: int) -> list[int]:
    """Gorilla stream as documented in ``gorilla``."""
    prev = struct.unpack_from("<Q", data, 0)[0]
    out = [prev]
    bits = Bits(data[8:])
    lead = trail = None
    for _ in range(n - 1):
        if bits.take(1):
            if bits.take(1) == 0:
                length = 64 - lead - trail
            else:
                lead = bits.take(5)
                length = bits.take(6) or 64
                trail = 64 - lead - length
            prev ^= bits.take(length) << trail
        out.append(prev)
    return out


def walk(n: int, decimals: int, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.round(20 + np.cumsum(rng.normal(size=n)) * 0.3, decimals)


@pytest.mark.parametrize("n", [1, 1000, 1024, 2500])
@pytest.mark.parametrize("delta", [False, True])
def test_alp_layout_matches_reference_reader(n, delta):
    x = walk(n, 3)
    x[::97] = np.pi  # not a short decimal: an exception
    x[5 % n] = -0.0
    name, count, payload = payload_of(codecs.encode_alp(x, "alp", delta=delta))
    assert name == "alp" and count == n
    assert ref_alp(payload, n) == x.view(np.uint64).tolist()


def test_slow_signals_take_the_delta_layout():
    # A 3-decimal walk with small steps: steps need fewer bits than the range.
    x = walk(4096, 3)
    _, _, payload = payload_of(codecs.encode_alp(x, "alp"))
    exps = np.frombuffer(payload[40:44], np.uint8)
    assert (exps & 0x80).all()
    _, _, paper = payload_of(codecs.encode_alp(x, "alp", delta=False))
    assert len(payload) < 0.8 * len(paper)
    assert ref_alp(payload, 4096) == x.view(np.uint64).tolist()


@pytest.mark.parametrize("n", [1, 700, 3000])
def test_pfor_layout_matches_reference_reader(n):
    rng = np.random.default_rng(n)
    v = rng.integers(-50, 50, n).astype(np.int64)
    v[:: max(1, n // 5)] = np.iinfo(np.int64).min  # outliers become patches
    name, count, payload = payload_of(codecs.encode_int(v, "for"))
    values, end = ref_pfor(payload, 0, n)
    assert end == len(payload)
    assert values == v.view(np.uint64).tolist()


def test_gorilla_layout_matches_reference_reader():
    x = np.r_[walk(600, 2), [np.nan, -0.0, np.inf, 5e-324], walk(300, 5)]
    name, count, payload = payload_of(codecs.encode_gorilla(x))
    assert ref_gorilla(payload, count) == x.view(np.uint64).tolist()


def test_alp_finds_the_decimal_precision():
    # Two-decimal walk within about +-40 of 20: digits fit in ~13 bits.
    x = walk(10_240, 2)
    name, count, payload = payload_of(codecs.encode_alp(x))
    nvec = count // VECTOR
    exps = np.frombuffer(payload[10 * nvec : 11 * nvec], np.uint8).astype(int) & 0x7F
    facs = np.frombuffer(payload[11 * nvec : 12 * nvec], np.uint8).astype(int)
    assert name == "alp"
    assert ((exps - facs) == 2).all()
    span = np.ptp(np.round(x * 100))
    assert len(payload) * 8 / count <= np.ceil(np.log2(span + 1)) + 0.2


def test_outliers_become_patches_not_wide_slots():
    v = np.zeros(4096, dtype=np.int64)
    v[[10, 2000, 4000]] = [2**60, -(2**61), 7]
    block = codecs.encode_int(v, "for")
    # Four vector headers (11 bytes each) and three 10-byte patches, no packed bits.
    assert len(payload_of(block)[2]) == 4 * 11 + 3 * 10
    assert np.array_equal(codecs.decode_int(block), v)


def test_regular_timestamps_cost_under_a_tenth_of_a_bit():
    t = 1_700_000_000 * 10**9 + np.arange(4096, dtype=np.int64) * 10**9
    block = codecs.encode_column(t, kind="time")
    assert codecs.codec_name(block) == "step"
    assert len(block) * 8 / len(t) <= 0.1


def test_non_decimal_doubles_take_the_rd_fallback():
    rng = np.random.default_rng(3)
    x = rng.uniform(-np.pi, np.pi, 5000)
    block = codecs.encode_alp(x)
    assert codecs.codec_name(block) == "alp-rd"
    # The sign, exponent and top mantissa bits repeat: clearly under 64 bits.
    assert len(block) * 8 / len(x) < 60


def read_uvarint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        shift += 7
        if byte < 0x80:
            return value, pos


def test_delta_layout_divides_by_the_common_step():
    # A traffic sensor: whole minutes apart, irregularly, in nanoseconds.
    rng = np.random.default_rng(11)
    minutes = np.cumsum(rng.integers(1, 30, 3000))
    t = 1_436_000_000 * 10**9 + minutes * 60 * 10**9
    name, count, payload = payload_of(codecs.encode_time(t, "delta"))
    first = struct.unpack_from("<q", payload, 0)[0]
    g, pos = read_uvarint(payload, 8)
    quotients, end = ref_pfor(payload, pos, count - 1)
    assert (first, g, end) == (int(t[0]), 60 * 10**9, len(payload))
    rebuilt = np.cumsum([first] + [q * g for q in quotients])
    assert rebuilt.tolist() == t.tolist()
    # Quotients below 30 need 5 bits: well under a byte per timestamp.
    assert len(payload) < count

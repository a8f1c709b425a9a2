"""Dictionary codec for float64 columns with few distinct values.

Industrial signals are often quantised (an ADC with a few hundred levels, a set point,
a counter stored as float, a sensor that mostly reads 0.0). Then storing each distinct
bit pattern once and a small index per row beats any per-value codec. The dictionary
is itself ALP-encoded and the indices go through the integer codecs (frame of
reference, delta or runs), so a stretch of one repeated level costs almost nothing.

Payload, little-endian::

    dict_count     u32
    dict_codec     u8     codec id of the dictionary payload (alp, alp-rd or raw)
    dict_length    u32    bytes of the dictionary payload
    dictionary     dict_length bytes
    codes_codec    u8     codec id of the index payload (an integer codec)
    codes          the rest: ``n`` indices below dict_count

Distinct means distinct bits: 0.0 and -0.0, or two NaN payloads, are separate entries.
"""

from __future__ import annotations

import numba
import numpy as np

from tsengine._config import NJIT
from tsengine.codecs import alp, integers
from tsengine.codecs._frame import CODEC_IDS, CODEC_NAMES, Where

#: The chooser gives up on a dictionary once distinct values exceed this share. A
#: sample cannot decide it: 4,000 levels among 100,000 readings look all distinct in a
#: sample of 2,000, yet index in 12 bits.
MAX_DISTINCT_SHARE = 0.5
#: ... and beyond this many entries, which keeps the hash table within 8 MiB.
MAX_ENTRIES = 1 << 18
_MIN_VALUES = 64
_DICT_CODECS = ("alp", "alp-rd", "raw")
EMPTY = np.uint64(0xFFFFFFFFFFFFFFFF)


@numba.njit(**NJIT)
def _build(xb, limit, codes, entries):
    """Hash the uint64 patterns ``xb`` into a dictionary of first appearances.

    Fills ``codes`` (int64, one per value) and ``entries`` (the distinct patterns);
    returns their number, or -1 as soon as there are more than ``limit``. O(n), where
    sorting would be O(n log n) and dominate the encoder. Each slot keeps its key and
    index side by side, so a lookup touches one cache line.
    """
    size = 16
    while size < 2 * limit:
        size *= 2
    shift = np.uint64(64 - np.log2(size))
    table = np.empty((size, 2), dtype=np.uint64)
    table[:, 1] = EMPTY
    mask = size - 1
    count = 0
    for i in range(xb.shape[0]):
        key = xb[i]
        # Fibonacci hashing, then linear probing.
        h = np.int64((key * np.uint64(0x9E3779B97F4A7C15)) >> shift)
        while True:
            k = table[h, 1]
            if k == EMPTY:
                if count == limit:
                    return -1
                table[h, 0] = key
                table[h, 1] = np.uint64(count)
                entries[count] = key
                codes[i] = count
                count += 1
                break
            if table[h, 0] == key:
                codes[i] = np.int64(k)
                break
            h = (h + 1) & mask
    return count


@numba.njit(**NJIT)
def _rank(keys, codes):
    """Sort the distinct ``keys`` (in place) and turn each first-appearance index in
    ``codes`` into the rank of its key (in place).

    Least-significant-digit radix sort, 8 bits a pass, skipping the bytes on which
    all keys agree (the sign and exponent of similar readings): about twice as fast
    as a comparison sort on the dictionaries sensor data gives.
    """
    n = keys.shape[0]
    order = np.arange(n)
    if n < 2:
        return
    ones = np.uint64(0)
    zeros = ~np.uint64(0)
    for i in range(n):
        ones |= keys[i]
        zeros &= keys[i]
    varying = ones ^ zeros
    k_tmp = np.empty(n, dtype=np.uint64)
    o_tmp = np.empty(n, dtype=np.int64)
    count = np.empty(257, dtype=np.int64)
    for byte in range(8):
        shift = np.uint64(8 * byte)
        if (varying >> shift) & np.uint64(0xFF) == 0:
            continue
        count[:] = 0
        for i in range(n):
            count[np.int64((keys[i] >> shift) & np.uint64(0xFF)) + 1] += 1
        for d in range(256):
            count[d + 1] += count[d]
        for i in range(n):
            d = np.int64((keys[i] >> shift) & np.uint64(0xFF))
            j = count[d]
            count[d] = j + 1
            k_tmp[j] = keys[i]
            o_tmp[j] = order[i]
        keys[:] = k_tmp
        order[:] = o_tmp

    # order[r] is the first-appearance index of the key of rank r
    rank = np.empty(n, dtype=np.int64)
    for r in range(n):
        rank[order[r]] = r
    for i in range(codes.shape[0]):
        codes[i] = rank[codes[i]]


def distinct(x: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Sorted distinct bit patterns of ``x`` and each value's index, or None if the
    values have more than ``limit`` distinct patterns."""
    xb = x.view(np.uint64)
    codes = np.empty(len(xb), dtype=np.int64)
    entries = np.empty(max(1, limit), dtype=np.uint64)
    count = _build(xb, max(1, limit), codes, entries)
    if count < 0:
        return None
    # Sorted entries make neighbouring values get neighbouring indices.
    entries = entries[:count].copy()
    _rank(entries, codes)
    return entries, codes


def worth_trying(x: np.ndarray) -> bool:
    """Whether the chooser should attempt a dictionary (it may still bail out)."""
    return len(x) >= _MIN_VALUES


def encode_payload(x: np.ndarray, limit: int | None = None) -> bytes | None:
    """Dictionary payload of the float64 array ``x`` (any bit patterns).

    Returns None when ``limit`` is given and ``x`` has more distinct values.
    """
    found = distinct(x, len(x) if limit is None else limit)
    if found is None:
        return None
    bits, codes = found
    return assemble(encode_entries(bits), *integers.choose_payload(codes, "int64"))


def encode_entries(bits: np.ndarray) -> tuple[int, str, bytes]:
    """Count, codec and payload of the sorted distinct patterns ``bits``: ALP, or
    raw when that is smaller."""
    dictionary = bits.view(np.float64)
    dict_codec, dict_payload = alp.choose_payload(dictionary)
    if len(dict_payload) > 8 * len(dictionary):
        dict_codec, dict_payload = "raw", dictionary.astype("<f8").tobytes()
    return len(dictionary), dict_codec, dict_payload


def assemble(
    entries: tuple[int, str, bytes], codes_codec: str, codes_payload: bytes
) -> bytes:
    """The payload of a dictionary (as :func:`encode_entries` returns it) and of its
    indices (an integer codec's name and payload)."""
    count, dict_codec, dict_payload = entries
    return b"".join(
        [
            count.to_bytes(4, "little"),
            bytes([CODEC_IDS[dict_codec]]),
            len(dict_payload).to_bytes(4, "little"),
            dict_payload,
            bytes([CODEC_IDS[codes_codec]]),
            codes_payload,
        ]
    )


#: Bytes of a payload besides the dictionary and index payloads.
OVERHEAD = 4 + 1 + 4 + 1


def decode_payload(buf: np.ndarray, n: int, where: Where) -> np.ndarray:
    """Decode ``n`` doubles from a dictionary payload (uint8)."""
    end = len(buf)
    if end < 9:
        raise where.fail(0, "payload ends inside the dictionary header")
    ndict = int(buf[0:4].view("<u4")[0])
    dict_codec = CODEC_NAMES.get(int(buf[4]), "")
    dict_len = int(buf[5:9].view("<u4")[0])
    if ndict > n or (n > 0) != (ndict > 0) or dict_codec not in _DICT_CODECS:
        raise where.fail(0, f"{ndict!r} entries with codec id {int(buf[4])!r}")
    if 9 + dict_len + 1 > end:
        raise where.fail(5, f"dictionary of {dict_len!r} bytes runs past the end")

    # The dictionary, then the indices into it.
    body = buf[9 : 9 + dict_len]
    at = where.at(9)
    if dict_codec == "alp":
        dictionary = alp.decode_alp_payload(body, ndict, at)
    elif dict_codec == "alp-rd":
        dictionary = alp.decode_rd_payload(body, ndict, at)
    else:
        dictionary = integers.decode_payload("raw", body, ndict, at).view(np.float64)
    pos = 9 + dict_len
    codes_codec = CODEC_NAMES.get(int(buf[pos]), "")
    if codes_codec not in integers.INT_CODECS:
        raise where.fail(
            pos, f"index codec id {int(buf[pos])!r} is not an integer codec"
        )
    codes = integers.decode_payload(codes_codec, buf[pos + 1 :], n, where.at(pos + 1))
    if n and int(codes.max()) >= ndict:
        raise where.fail(pos, f"an index points past the {ndict}-entry dictionary")
    return dictionary[codes.astype(np.int64)]

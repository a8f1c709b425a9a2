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
    order = np.argsort(entries[:count])
    rank = np.empty(count, dtype=np.int64)
    rank[order] = np.arange(count)
    return entries[:count][order], rank[codes]


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
    dictionary = bits.view(np.float64)
    dict_codec, dict_payload = alp.choose_payload(dictionary)
    if len(dict_payload) > 8 * len(dictionary):
        dict_codec, dict_payload = "raw", dictionary.astype("<f8").tobytes()
    codes_codec, codes_payload = integers.choose_payload(
        codes.astype(np.int64), "int64"
    )
    return b"".join(
        [
            len(dictionary).to_bytes(4, "little"),
            bytes([CODEC_IDS[dict_codec]]),
            len(dict_payload).to_bytes(4, "little"),
            dict_payload,
            bytes([CODEC_IDS[codes_codec]]),
            codes_payload,
        ]
    )


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

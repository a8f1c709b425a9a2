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

import numpy as np

from tsengine.codecs import alp, integers
from tsengine.codecs._frame import CODEC_IDS, CODEC_NAMES, Where

#: Try the dictionary when a sample has at most this share of distinct values.
MAX_DISTINCT_SHARE = 0.25
_SAMPLE = 2048
_DICT_CODECS = ("alp", "alp-rd", "raw")


def worth_trying(x: np.ndarray) -> bool:
    """Cheap test on an evenly spaced sample: few distinct bit patterns?"""
    n = len(x)
    if n < 64:
        return False
    sample = x.view(np.uint64)[:: max(1, n // _SAMPLE)]
    return len(np.unique(sample)) <= MAX_DISTINCT_SHARE * len(sample)


def encode_payload(x: np.ndarray) -> bytes:
    """Dictionary payload of the float64 array ``x`` (any bit patterns)."""
    bits, codes = np.unique(x.view(np.uint64), return_inverse=True)
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

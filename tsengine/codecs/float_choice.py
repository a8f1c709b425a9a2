"""Which codec a float64 column chunk gets under ``codec="auto"``, found cheaply.

Encoding every candidate in full (ALP, a dictionary, raw) and then zstd on top of the
small ones costs several times one ALP pass, and only one of them is kept. So a
chunk longer than ``SAMPLE_VECTORS`` vectors of 1024 values is judged on a sample of
that many vectors, spread evenly through it:

- ALP (or its ALP-RD fallback) encodes the sample; its size, scaled to the chunk, is
  the estimate. ALP works vector by vector, so a sample of vectors prices it well,
  and its own first sampling level reads these very vectors: that result is reused
  for the full encode (bit-identical output, one search fewer).
- A dictionary needs the number of distinct values of the whole chunk, which no
  sample tells (4,000 levels among 100,000 readings look all distinct in a small
  sample, yet index in 12 bits). The distinct pass runs over the whole chunk and the
  dictionary is encoded exactly; only its index stream is priced on the sample
  positions (frame of reference, delta) or, for run-length, whose cost is per run,
  encoded whole.
- raw costs 8 bytes a value, known without encoding.
- zstd on top is priced by compressing the sample payloads; it is tried for real
  only on what gets encoded in full, and kept only when it saves ``ZSTD_MIN_SAVING``
  of the real payload, as before.

Then the candidate with the smallest estimate is encoded in full. When the runner-up's
estimate is within ``CLOSE`` of the winner's real size, it is encoded too and the
smaller kept: a wrong estimate costs time, not ratio. Chunks of at most
``SAMPLE_VECTORS`` vectors try every candidate in full (the sample would be the chunk).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tsengine.codecs import alp, float_dict, integers, strings

VECTOR = 1024
#: Vectors of 1024 values in the sample; longer chunks are estimated from it.
SAMPLE_VECTORS = 8
#: The runner-up is encoded in full too when its estimate is within this share of
#: the winner's real size.
CLOSE = 0.10
#: zstd is tried on a full payload when its sample shrank by at least this share;
#: kept only when the full payload shrinks by ``ZSTD_MIN_SAVING`` (below).
ZSTD_HINT = 0.05
ZSTD_LEVEL = 3
ZSTD_MIN_SAVING = 0.10
ZSTD_MIN_BYTES = 64
#: zstd is priced only for candidates within this factor of the smallest estimate:
#: it rarely saves more on bit-packed payloads.
ZSTD_REACH = 1.25


@dataclass
class _Candidate:
    name: str
    estimate: float  # bytes of the whole payload, without zstd
    encode: Callable[[], tuple[str, bytes]]
    # compressed / plain size under zstd, priced on the sample when asked
    squeeze: Callable[[], float] = lambda: 1.0
    zstd_ratio: float = 1.0

    @property
    def final(self) -> float:
        """Estimated stored bytes, zstd included where it is expected to pay."""
        if self.zstd_ratio <= 1 - ZSTD_MIN_SAVING:
            return self.estimate * self.zstd_ratio
        return self.estimate


def _spans(n: int) -> list[tuple[int, int]]:
    """``SAMPLE_VECTORS`` whole vectors spread evenly over ``n`` values."""
    nvec = -(-n // VECTOR)
    picks = [(k * nvec) // SAMPLE_VECTORS for k in range(SAMPLE_VECTORS)]
    return [(v * VECTOR, min(n, (v + 1) * VECTOR)) for v in picks]


def _ratio(sample_payload: bytes) -> float:
    if len(sample_payload) < ZSTD_MIN_BYTES:
        return 1.0
    return len(strings.compress(sample_payload, ZSTD_LEVEL)) / len(sample_payload)


def _with_zstd(
    name: str, payload: bytes, zstd: str, hint: float
) -> tuple[str, bytes, int | None]:
    """``payload`` with zstd on top when asked or when it pays (tried only when the
    sample ``hint`` says it may)."""
    if zstd == "always" or (
        zstd == "try" and len(payload) >= ZSTD_MIN_BYTES and hint <= 1 - ZSTD_HINT
    ):
        packed = strings.compress(payload, ZSTD_LEVEL)
        if zstd == "always" or len(packed) <= (1 - ZSTD_MIN_SAVING) * len(payload):
            return name, packed, len(payload)
    return name, payload, None


def _index_estimate(
    codes: np.ndarray, part: np.ndarray, scale: float
) -> tuple[str, bytes, float]:
    """Integer codec for a dictionary's indices, its payload on the sample ``part``
    and the estimated bytes for all ``codes``.

    Frame of reference and delta work vector by vector, so the sample prices them.
    Runs do not stop at vector edges and a sample prices them badly, so run-length
    (tried only when runs average three values or more) encodes the whole chunk:
    its cost is per run, not per value.
    """
    if integers.step_of(codes) is not None:
        return "step", b"", 32.0
    best = ("raw", b"", 8.0 * len(codes))
    for name in ("for", "delta"):
        payload = integers.encode_payload(part, name)
        if len(payload) * scale < best[2]:
            best = (name, payload, len(payload) * scale)
    if 3 * integers.run_count(codes) <= len(codes):
        payload = integers.encode_payload(codes, "rle")
        if len(payload) < best[2]:
            best = ("rle", payload, len(payload))
    return best


def _estimate(x: np.ndarray, limit: int) -> list[_Candidate]:
    """Every float candidate priced from a sample of vectors (see module doc)."""
    n = len(x)
    spans = _spans(n)
    sample = np.concatenate([x[lo:hi] for lo, hi in spans])
    scale = n / len(sample)
    found = []

    # ALP (or ALP-RD) on the sample. ALP's own first sampling level looks at these
    # very vectors, so the sample's result stands for the chunk's (one row group)
    top = alp.sample_combos(sample)
    if n > alp.K.ROW_GROUP * VECTOR or alp.K.SAMPLE_VECTORS != SAMPLE_VECTORS:
        top_x = None
    else:
        top_x = top
    name, payload = alp.choose_payload(sample, top=top)
    found.append(
        _Candidate(
            name,
            len(payload) * scale,
            lambda: alp.choose_payload(x, top=top_x),
            lambda: _ratio(payload),
        )
    )

    # raw: known size
    found.append(
        _Candidate(
            "raw",
            8.0 * n,
            lambda: ("raw", x.astype("<f8", copy=False).tobytes()),
            lambda: _ratio(sample.astype("<f8", copy=False).tobytes()),
        )
    )

    # dictionary: exact distinct values and dictionary, index stream sampled
    if float_dict.worth_trying(x):
        distinct = float_dict.distinct(x, limit)
        if distinct is not None:
            bits, codes = distinct
            entries = float_dict.encode_entries(bits)
            part = np.concatenate([codes[lo:hi] for lo, hi in spans])
            codec, codes_sample, codes_bytes = _index_estimate(codes, part, scale)
            plain = float_dict.OVERHEAD + len(entries[2]) + codes_bytes

            def squeeze(head=entries, done=codes_sample, rest=codes_bytes, all=plain):
                if all < ZSTD_MIN_BYTES:
                    return 1.0
                packed = len(strings.compress(head[2], ZSTD_LEVEL))
                packed += float_dict.OVERHEAD + rest * _ratio(done)
                return min(1.0, packed / all)

            def encode_dict(codes=codes, codec=codec, done=codes_sample, head=entries):
                # run-length was encoded in full already; the others on the sample
                if codec != "rle":
                    done = integers.encode_payload(codes, codec)
                return "dict", float_dict.assemble(head, codec, done)

            found.append(_Candidate("dict", plain, encode_dict, squeeze))

    # zstd is only worth pricing for candidates near the smallest
    least = min(c.estimate for c in found)
    for c in found:
        if c.estimate <= ZSTD_REACH * least:
            c.zstd_ratio = c.squeeze()
    return found


def choose(x: np.ndarray, zstd: str = "try") -> tuple[str, bytes, int | None]:
    """Codec name, stored payload and, when zstd is on top, the raw payload length.

    Parameters
    ----------
    x : numpy.ndarray
        Contiguous float64 values (present values only).
    zstd : {"try", "always"}
        Keep zstd when it saves ``ZSTD_MIN_SAVING`` of the payload, or always.
    """
    limit = min(int(float_dict.MAX_DISTINCT_SHARE * len(x)), float_dict.MAX_ENTRIES)
    if -(-len(x) // VECTOR) <= SAMPLE_VECTORS:
        return _exhaustive(x, limit, zstd)
    found = sorted(_estimate(x, limit), key=lambda c: c.final)

    # The estimated best in full; the runner-up too when it is close
    best = _with_zstd(*found[0].encode(), zstd, found[0].zstd_ratio)
    if len(found) > 1 and found[1].final <= (1 + CLOSE) * len(best[1]):
        other = _with_zstd(*found[1].encode(), zstd, found[1].zstd_ratio)
        if len(other[1]) < len(best[1]):
            best = other
    return best


def _exhaustive(x: np.ndarray, limit: int, zstd: str) -> tuple[str, bytes, int | None]:
    """Every candidate in full, zstd tried on those near the smallest."""
    found = [alp.choose_payload(x), ("raw", x.astype("<f8", copy=False).tobytes())]
    if float_dict.worth_trying(x):
        by_dict = float_dict.encode_payload(x, limit)
        if by_dict is not None:
            found.append(("dict", by_dict))
    least = min(len(p) for _, p in found)
    best = None
    for name, payload in found:
        near = len(payload) <= ZSTD_REACH * least
        final = _with_zstd(name, payload, zstd if near or zstd != "try" else "", 0.0)
        if best is None or len(final[1]) < len(best[1]):
            best = final
    return best

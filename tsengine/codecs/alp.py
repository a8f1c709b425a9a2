"""ALP float64 codec (decimal scaling, frame of reference, patched exceptions) and its
ALP-RD fallback for doubles that are not decimals. Kernels live in ``_alp_kernels``
(encoding), ``_alp_decode_kernels`` and ``_alp_rd_kernels``; this module owns the byte
layouts and validates them.

ALP payload, for ``n`` values in ``nvec`` vectors of 1024, little-endian::

    bases       nvec x i64    frame-of-reference base of the digits (of the steps in
                              a delta vector)
    exc_counts  nvec x u16    (<= vector length)
    exponents   nvec x u8     e (<= 18), | 0x80 for a delta vector
    factors     nvec x u8     f  (<= e)
    widths      nvec x u8     packed width (<= 64)
    anchors     ndelta x i64  first digit of each delta vector, in vector order
    words       sum of words_for(len_i, width_i) x u64
                              digit - base; in a delta vector, slot 0 is unused and
                              slot i holds (digit_i - digit_i-1) - base
    exc_values  total exceptions x u64   (the exact bits)
    exc_pos     total exceptions x u16   (< vector length)

ALP-RD payload::

    r           u8            right bits, 48..63
    b           u8            index bits, 0..3
    dictionary  2**b x u16    left parts
    exc_counts  nvec x u16
    rights      words_for(n, r) x u64
    indices     words_for(n, b) x u64
    exc_lefts   total exceptions x u16
    exc_pos     total exceptions x u16
"""

from __future__ import annotations

import numpy as np

from tsengine.codecs import _alp_decode_kernels as KD
from tsengine.codecs import _alp_kernels as K
from tsengine.codecs import _alp_rd_kernels as RD
from tsengine.codecs import _frame
from tsengine.codecs._bitpack import words_for
from tsengine.codecs._frame import Where, section
from tsengine.codecs._pfor import NATIVE_IS_FORMAT
from tsengine.errors import SchemaError

VECTOR = 1024
_META = 8 + 2 + 1 + 1 + 1
#: ALP is tried first; at or above this many bits per value ALP-RD is tried too.
RD_THRESHOLD = 48.0


def as_float64(values: np.ndarray) -> np.ndarray:
    """Return a contiguous 1-D float64 array or raise SchemaError naming the dtype."""
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.dtype != np.float64:
        raise SchemaError(
            f"float64 column needs a 1-D float64 array, got {arr.dtype!r} with shape "
            f"{arr.shape!r}"
        )
    return np.ascontiguousarray(arr)


def _vector_lengths(n: int) -> np.ndarray:
    nvec = -(-n // VECTOR)
    lens = np.full(nvec, VECTOR, dtype=np.int64)
    if nvec:
        lens[-1] = n - VECTOR * (nvec - 1)
    return lens


# -- ALP -------------------------------------------------------------------------


_NO_COMBOS = np.zeros((0, 2), dtype=np.int64)


def encode_alp_payload(
    x: np.ndarray, delta: bool = True, first: np.ndarray = _NO_COMBOS
) -> bytes:
    """ALP payload of the float64 array ``x`` (no fallback); ``delta=False`` is the
    paper's algorithm without tsengine's per-vector delta layout. ``first``: the
    first row group's ``(e, f)`` candidates when already sampled."""
    n = len(x)
    if n == 0:
        return b""
    if NATIVE_IS_FORMAT:
        # One kernel call: small blocks spend more on Python calls than on packing.
        return K._encode_bytes(x, delta, first).tobytes()
    # Another byte order: the same sections, each made little-endian.
    sections = K._encode_sections(x, delta, first)
    order = ["<i8", "<u2", "u1", "u1", "u1", "<i8", "<u8", "<u8", "<u2"]
    return b"".join(
        a.astype(t, copy=False).tobytes() for a, t in zip(sections, order, strict=True)
    )


def decode_alp_payload(buf: np.ndarray, n: int, where: Where) -> np.ndarray:
    """Decode ``n`` doubles from an ALP payload (uint8), checking every length first."""
    end = len(buf)
    if n == 0:
        if end:
            raise where.fail(0, f"{end} payload bytes for an empty block")
        return np.empty(0, dtype=np.float64)
    nvec = -(-n // VECTOR)
    meta = nvec * _META
    if meta > end:
        raise where.fail(0, f"{nvec} vector headers need {meta} bytes, {end} present")
    bases = section(buf, 0, "<i8", nvec)
    counts = section(buf, 8 * nvec, "<u2", nvec)
    exps = section(buf, 10 * nvec, "u1", nvec)
    facs = section(buf, 11 * nvec, "u1", nvec)
    widths = section(buf, 12 * nvec, "u1", nvec)

    # Metadata ranges, then the section sizes they imply.
    bad, nwords, nexc, ndelta = KD._check(exps, facs, widths, counts, n)
    if bad >= 0:
        raise where.fail(
            10 * nvec + bad,
            f"vector {bad}: e={int(exps[bad])!r} f={int(facs[bad])!r} "
            f"width={int(widths[bad])!r} exceptions={int(counts[bad])!r} out of range",
        )
    p_words = meta + 8 * ndelta
    p_vals = p_words + 8 * nwords
    p_pos = p_vals + 8 * nexc
    if p_pos + 2 * nexc != end:
        raise where.fail(
            meta,
            f"sections need {p_pos + 2 * nexc - meta} bytes after the vector "
            f"headers, {end - meta} present",
        )

    out = np.empty(n, dtype=np.float64)
    err = KD._decode(
        section(buf, p_words, "<u8", nwords),
        section(buf, meta, "<i8", ndelta),
        section(buf, p_vals, "<u8", nexc),
        section(buf, p_pos, "<u2", nexc),
        bases,
        exps,
        facs,
        widths,
        counts,
        out,
    )
    if err >= 0:
        raise where.fail(p_pos + 2 * err, "exception position outside its vector")
    return out


# -- ALP-RD ----------------------------------------------------------------------


def encode_rd_payload(x: np.ndarray, choice: tuple | None = None) -> bytes:
    """ALP-RD payload of the float64 array ``x``; ``choice`` is ``RD._choose`` of
    ``x`` when the caller has it already."""
    n = len(x)
    if n == 0:
        return b""
    xb = x.view(np.uint64)
    r, b, dictionary, _ = RD._choose(xb) if choice is None else choice
    if len(dictionary) != 1 << b:
        dictionary = np.resize(dictionary, 1 << b)
    if NATIVE_IS_FORMAT:
        return RD._encode_bytes(xb, r, b, dictionary).tobytes()
    nvec = -(-n // VECTOR)
    rights = np.zeros(words_for(n, r), dtype=np.uint64)
    codes = np.zeros(words_for(n, b), dtype=np.uint64)
    counts = np.empty(nvec, dtype=np.uint16)
    exc_lefts = np.empty(n, dtype=np.uint16)
    exc_pos = np.empty(n, dtype=np.uint16)
    ne = RD._encode(xb, r, b, dictionary, rights, codes, counts, exc_lefts, exc_pos)
    return b"".join(
        [
            bytes([r, b]),
            dictionary.astype("<u2", copy=False).tobytes(),
            counts.astype("<u2", copy=False).tobytes(),
            rights.astype("<u8", copy=False).tobytes(),
            codes.astype("<u8", copy=False).tobytes(),
            exc_lefts[:ne].astype("<u2", copy=False).tobytes(),
            exc_pos[:ne].astype("<u2", copy=False).tobytes(),
        ]
    )


def decode_rd_payload(buf: np.ndarray, n: int, where: Where) -> np.ndarray:
    """Decode ``n`` doubles from an ALP-RD payload (uint8), checking lengths first."""
    end = len(buf)
    if n == 0:
        if end:
            raise where.fail(0, f"{end} payload bytes for an empty block")
        return np.empty(0, dtype=np.float64)
    if end < 2:
        raise where.fail(0, "payload ends inside the cut parameters")
    r, b = int(buf[0]), int(buf[1])
    if not 64 - RD.MAX_LEFT <= r <= 63 or b > RD.MAX_INDEX_BITS:
        raise where.fail(0, f"cut r={r!r} or index bits b={b!r} out of range")
    size = 1 << b
    nvec = -(-n // VECTOR)
    p_counts = 2 + 2 * size
    p_rights = p_counts + 2 * nvec
    if p_rights > end:
        raise where.fail(2, "payload ends inside the dictionary or exception counts")
    dictionary = section(buf, 2, "<u2", size).astype(np.uint64)
    counts = section(buf, p_counts, "<u2", nvec)
    if (counts > _vector_lengths(n)).any():
        raise where.fail(p_counts, "more exceptions than values in a vector")
    nexc = int(counts.sum(dtype=np.int64))
    p_codes = p_rights + 8 * words_for(n, r)
    p_lefts = p_codes + 8 * words_for(n, b)
    p_pos = p_lefts + 2 * nexc
    if p_pos + 2 * nexc != end:
        raise where.fail(
            p_rights,
            f"sections need {p_pos + 2 * nexc - p_rights} bytes, "
            f"{end - p_rights} present",
        )

    out = np.empty(n, dtype=np.uint64)
    err = RD._decode(
        section(buf, p_rights, "<u8", words_for(n, r)),
        section(buf, p_codes, "<u8", words_for(n, b)),
        section(buf, p_lefts, "<u2", nexc),
        section(buf, p_pos, "<u2", nexc),
        r,
        b,
        dictionary,
        counts,
        out,
    )
    if err >= 0:
        raise where.fail(p_pos + 2 * err, "exception position outside its vector")
    return out.view(np.float64)


# -- public API --------------------------------------------------------------------


def sample_combos(x: np.ndarray) -> tuple[np.ndarray, float]:
    """ALP's first sampling level over ``x``: its best ``(e, f)`` pairs and their
    estimated bits per value. It looks at (at most) ``K.SAMPLE_VECTORS`` vectors
    spread evenly over ``x``, so a caller holding exactly those vectors gets the
    same answer from them."""
    return K._top_combos(x, x.view(np.uint64))


def choose_payload(
    x: np.ndarray, delta: bool = True, top: tuple | None = None
) -> tuple[str, bytes]:
    """ALP, or ALP-RD when the values are not decimals and RD comes out smaller.

    A sample decides first: when decimal scaling is estimated at ``RD_THRESHOLD``
    bits per value or more and ALP-RD looks cheaper, ALP is not attempted at all.
    ``top`` is ``sample_combos(x)`` when the caller has it already.
    """
    if len(x) == 0:
        return "alp", b""
    combos, alp_bits = sample_combos(x) if top is None else top
    rd_choice = None
    if alp_bits >= RD_THRESHOLD:
        # Priced once: the payload below is cut the same way.
        rd_choice = RD._choose(x.view(np.uint64))
        if rd_choice[3] < alp_bits:
            return "alp-rd", encode_rd_payload(x, rd_choice)
    # The sample above is the first row group's when x is one row group: reuse it
    first = combos if len(x) <= K.ROW_GROUP * VECTOR else _NO_COMBOS
    payload = encode_alp_payload(x, delta, first)
    if len(x) and len(payload) * 8 >= RD_THRESHOLD * len(x):
        rd = encode_rd_payload(x, rd_choice)
        if len(rd) < len(payload):
            return "alp-rd", rd
    return "alp", payload


def encode_alp(values: np.ndarray, mode: str = "auto", *, delta: bool = True) -> bytes:
    """Encode float64 values with ALP into one block.

    Parameters
    ----------
    values : numpy.ndarray
        1-D float64; any bit pattern (NaN payloads, -0.0, subnormals, inf) round-trips.
    mode : {"auto", "alp", "alp-rd"}
        ``"auto"`` falls back to ALP-RD when decimal scaling does not pay.
    delta : bool
        Let slowly changing vectors store digit differences (tsengine's extension);
        False gives the paper's ALP, for comparisons.

    Examples
    --------
    >>> x = np.round(np.linspace(0, 100, 5000), 2)
    >>> y = decode_alp(encode_alp(x))
    >>> bool((y.view(np.uint64) == x.view(np.uint64)).all())
    True
    """
    x = as_float64(values)
    if mode == "auto":
        codec, payload = choose_payload(x, delta)
    elif mode == "alp":
        codec, payload = "alp", encode_alp_payload(x, delta)
    elif mode == "alp-rd":
        codec, payload = "alp-rd", encode_rd_payload(x)
    else:
        raise SchemaError(f"unknown ALP mode {mode!r}; expected auto, alp or alp-rd")
    return _frame.build(codec, "float64", len(x), payload)


def decode_alp(buf, *, source: str = "<memory>", offset: int = 0) -> np.ndarray:
    """Decode an ALP or ALP-RD block into a new float64 array.

    Raises
    ------
    CorruptionError
        If the block fails its checksum or its layout, naming ``source`` and the
        absolute byte offset (``offset`` is where ``buf`` starts in the source).
    """
    frame, payload, where = _frame.open_payload(buf, source, offset, ("alp", "alp-rd"))
    if frame.codec_name == "alp":
        return decode_alp_payload(payload, frame.count, where)
    return decode_rd_payload(payload, frame.count, where)

"""The block frame shared by every codec: header, lengths, checksum, error reporting.

Every encoded block, whatever its codec, is one frame (all integers little-endian)::

    offset  size  field
    0       2     magic b"TC"
    2       1     format version (1)
    3       1     codec id (see ``CODEC_NAMES``)
    4       1     kind id (low 4 bits) | flags (high 4 bits)
    5       4     CRC-32 (zlib) of bytes [0, 5) followed by bytes [9, end)
    9       var   row count (LEB128, at most 5 bytes)
    ...     var   validity section length    (only when FLAG_VALIDITY)
    ...     var   stored payload length
    ...     var   raw payload length         (only when FLAG_ZSTD)
    ...           validity section, then payload section; the frame ends exactly there

The validity section is a boolean payload (see ``booleans``) of ``count`` flags; the
payload then holds only the present values. When ``FLAG_ZSTD`` is set the payload
section is a zstd frame that inflates to the codec's own payload.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import zstandard

from tsengine.errors import CorruptionError, SchemaError

try:  # ISA-L: the same CRC-32 values, several times faster on long blocks
    from isal.isal_zlib import crc32
except ImportError:  # optional accelerator
    from zlib import crc32

MAGIC = b"TC"
VERSION = 1
FIXED_HEADER = 9

#: Largest number of rows one block may hold; bounds every allocation a decoder makes.
MAX_ROWS = 1 << 24
#: Largest inflated payload a zstd section may claim, in bytes.
MAX_RAW_PAYLOAD = 1 << 31

FLAG_VALIDITY = 0x10
FLAG_ZSTD = 0x20
_KNOWN_FLAGS = FLAG_VALIDITY | FLAG_ZSTD

KINDS = ("time", "float64", "int64", "uint64", "bool", "string")
KIND_IDS = {name: i for i, name in enumerate(KINDS)}

CODEC_NAMES = {
    1: "raw",
    2: "step",
    3: "for",
    4: "delta",
    5: "dod",
    6: "rle",
    7: "alp",
    8: "alp-rd",
    9: "gorilla",
    10: "chimp128",
    11: "bitmap",
    12: "runs",
    13: "dict",
}
CODEC_IDS = {name: i for i, name in CODEC_NAMES.items()}


class Where:
    """Names a place in the input so that a corruption error can say where it is.

    Parameters
    ----------
    source : str
        Name of the file or stream the bytes came from.
    offset : int
        Absolute byte offset of the position this object refers to.
    codec : str
        Codec being decoded, quoted in messages.
    """

    __slots__ = ("source", "offset", "codec")

    def __init__(self, source: str, offset: int, codec: str = "block") -> None:
        self.source = source
        self.offset = offset
        self.codec = codec

    def at(self, delta: int, codec: str | None = None) -> Where:
        """Return the place ``delta`` bytes further on."""
        return Where(self.source, self.offset + delta, codec or self.codec)

    def fail(self, pos: int, what: str) -> CorruptionError:
        """Build the error for a defect found ``pos`` bytes after this place."""
        return CorruptionError(
            f"{self.source}: corrupt {self.codec} block at byte offset "
            f"{self.offset + pos}: {what}"
        )


@dataclass(frozen=True)
class Frame:
    """A parsed, checksum-verified frame; sections are zero-copy views of the input."""

    codec: int
    kind: int
    count: int
    validity: memoryview | None
    payload: memoryview
    zstd_raw_len: int
    validity_at: Where
    payload_at: Where

    @property
    def codec_name(self) -> str:
        return CODEC_NAMES[self.codec]


def _put_varint(out: bytearray, value: int) -> None:
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def _get_varint(buf: memoryview, pos: int, where: Where) -> tuple[int, int]:
    """Read one LEB128 integer of at most 5 bytes; return (value, next position)."""
    value = 0
    for i in range(5):
        if pos + i >= len(buf):
            raise where.fail(pos + i, "header ends inside a length field")
        byte = buf[pos + i]
        value |= (byte & 0x7F) << (7 * i)
        if byte < 0x80:
            return value, pos + i + 1
    raise where.fail(pos, "length field longer than 5 bytes")


def build(
    codec: str,
    kind: str,
    count: int,
    payload: bytes,
    validity: bytes | None = None,
    zstd_raw_len: int | None = None,
) -> bytes:
    """Assemble one frame around already encoded sections.

    Parameters
    ----------
    codec, kind : str
        Names from ``CODEC_NAMES`` and ``KINDS``.
    count : int
        Rows in the block, nulls included.
    payload : bytes
        The codec payload (zstd-compressed when ``zstd_raw_len`` is given).
    validity : bytes or None
        Encoded validity section, or None when every row is present.
    zstd_raw_len : int or None
        Inflated payload length in bytes when ``payload`` is a zstd frame.
    """
    if not 0 <= count <= MAX_ROWS:
        raise SchemaError(f"a block holds at most {MAX_ROWS} rows, got {count!r}")
    flags = (FLAG_VALIDITY if validity is not None else 0) | (
        FLAG_ZSTD if zstd_raw_len is not None else 0
    )

    # Variable part of the header: count, then the section lengths.
    tail = bytearray()
    _put_varint(tail, count)
    if validity is not None:
        _put_varint(tail, len(validity))
    _put_varint(tail, len(payload))
    if zstd_raw_len is not None:
        _put_varint(tail, zstd_raw_len)

    # The checksum covers everything but itself.
    head = MAGIC + bytes([VERSION, CODEC_IDS[codec], KIND_IDS[kind] | flags])
    crc = crc32(head)
    crc = crc32(tail, crc)
    if validity is not None:
        crc = crc32(validity, crc)
    crc = crc32(payload, crc)
    parts = [head, crc.to_bytes(4, "little"), bytes(tail)]
    if validity is not None:
        parts.append(validity)
    parts.append(payload)
    return b"".join(parts)


def parse(buf: bytes | bytearray | memoryview, source: str, offset: int) -> Frame:
    """Check magic, version, lengths and checksum of one frame; return its sections.

    Raises
    ------
    CorruptionError
        On any defect, naming ``source`` and the absolute byte offset.
    """
    mv = memoryview(buf).cast("B") if not isinstance(buf, memoryview) else buf
    if mv.format != "B" or mv.ndim != 1:
        mv = mv.cast("B")
    where = Where(source, offset)

    # Fixed header.
    if len(mv) < FIXED_HEADER + 2:
        raise where.fail(0, f"block of {len(mv)} bytes is shorter than any header")
    if bytes(mv[0:2]) != MAGIC:
        raise where.fail(0, f"bad magic {bytes(mv[0:2])!r}, expected {MAGIC!r}")
    if mv[2] != VERSION:
        raise where.fail(2, f"unsupported format version {mv[2]!r}")
    codec = mv[3]
    if codec not in CODEC_NAMES:
        raise where.fail(3, f"unknown codec id {codec!r}")
    kind, flags = mv[4] & 0x0F, mv[4] & 0xF0
    if kind >= len(KINDS) or flags & ~_KNOWN_FLAGS:
        raise where.fail(4, f"bad kind/flags byte {mv[4]!r}")
    stored_crc = int.from_bytes(mv[5:9], "little")
    where = Where(source, offset, CODEC_NAMES[codec])

    # Variable header: every length is checked against the bytes actually present.
    pos = FIXED_HEADER
    count, pos = _get_varint(mv, pos, where)
    if count > MAX_ROWS:
        raise where.fail(FIXED_HEADER, f"row count {count!r} exceeds {MAX_ROWS}")
    vlen = 0
    if flags & FLAG_VALIDITY:
        vlen, pos = _get_varint(mv, pos, where)
    plen, pos = _get_varint(mv, pos, where)
    raw_len = -1
    if flags & FLAG_ZSTD:
        raw_len, pos = _get_varint(mv, pos, where)
        if raw_len > MAX_RAW_PAYLOAD:
            raise where.fail(pos, f"inflated length {raw_len!r} is implausible")
    if pos + vlen + plen != len(mv):
        raise where.fail(
            pos,
            f"sections of {vlen}+{plen} bytes after a {pos}-byte header do not "
            f"fill the {len(mv)}-byte block",
        )

    # Checksum before any codec looks at the sections.
    crc = crc32(mv[9:], crc32(mv[0:5]))
    if crc != stored_crc:
        raise where.fail(5, f"checksum {crc:#010x} != stored {stored_crc:#010x}")

    return Frame(
        codec=codec,
        kind=kind,
        count=count,
        validity=mv[pos : pos + vlen] if flags & FLAG_VALIDITY else None,
        payload=mv[pos + vlen :],
        zstd_raw_len=raw_len,
        validity_at=where.at(pos, "validity"),
        payload_at=where.at(pos + vlen),
    )


def inflate(frame: Frame) -> tuple[memoryview, Where]:
    """Return the codec payload of ``frame``, inflating a zstd section if flagged.

    At most ``zstd_raw_len`` + 1 bytes are ever produced, so a lying zstd header cannot
    make the decoder allocate more than the frame declared; and the declared length of
    a non-string payload is bounded by what ``count`` values can need.
    """
    if frame.zstd_raw_len < 0:
        return frame.payload, frame.payload_at
    where = frame.payload_at
    if KINDS[frame.kind] != "string" and frame.zstd_raw_len > 32 * frame.count + 65536:
        raise where.fail(
            0,
            f"inflated length {frame.zstd_raw_len!r} is too large for "
            f"{frame.count} values",
        )
    try:
        reader = zstandard.ZstdDecompressor().stream_reader(
            io.BytesIO(frame.payload), read_across_frames=False
        )
        raw = reader.read(frame.zstd_raw_len + 1)
    except zstandard.ZstdError as exc:
        raise where.fail(0, f"zstd section does not inflate: {exc}") from None
    if len(raw) != frame.zstd_raw_len:
        raise where.fail(
            0,
            f"zstd section inflates to {len(raw)} bytes, header says "
            f"{frame.zstd_raw_len}",
        )
    # Offsets inside an inflated payload refer to the start of the zstd section.
    return memoryview(raw), Where(where.source, where.offset, where.codec + "+zstd")


def as_u8(mv: memoryview) -> np.ndarray:
    """View a byte section as a read-only uint8 array for the kernels (no copy)."""
    return np.frombuffer(mv, dtype=np.uint8)


def open_payload(
    buf: bytes | bytearray | memoryview, source: str, offset: int, codecs: tuple
) -> tuple[Frame, np.ndarray, Where]:
    """Parse a frame that a single-codec decoder was handed.

    Returns the frame, its inflated payload as uint8 and where the payload starts.
    The frame must use one of ``codecs`` and carry no validity section (only
    ``decode_column`` restores nulls).
    """
    frame = parse(buf, source, offset)
    if frame.codec_name not in codecs:
        raise Where(source, offset, frame.codec_name).fail(
            3,
            f"block uses codec {frame.codec_name!r}, expected one of {codecs!r}",
        )
    if frame.validity is not None:
        raise frame.validity_at.fail(0, "block has nulls; decode it with decode_column")
    payload, where = inflate(frame)
    return frame, as_u8(payload), where


def put_uvarint(value: int) -> bytes:
    """LEB128 bytes of an unsigned integer below 2**64."""
    out = bytearray()
    _put_varint(out, value)
    return bytes(out)


def get_uvarint(buf: np.ndarray, pos: int, end: int, where: Where) -> tuple[int, int]:
    """Read an unsigned LEB128 integer of at most 10 bytes (< 2**64) before ``end``."""
    value = 0
    for i in range(10):
        if pos + i >= end:
            raise where.fail(pos + i, "payload ends inside a varint")
        byte = int(buf[pos + i])
        value |= (byte & 0x7F) << (7 * i)
        if byte < 0x80:
            if value >= 1 << 64:
                raise where.fail(pos, f"varint {value!r} exceeds 64 bits")
            return value, pos + i + 1
    raise where.fail(pos, "varint longer than 10 bytes")


def section(buf: np.ndarray, pos: int, dtype: str, count: int) -> np.ndarray:
    """Zero-copy view of ``count`` little-endian items of ``dtype`` at byte ``pos``.

    The caller has checked that the bytes exist. The view may be unaligned.
    """
    return np.frombuffer(buf, dtype=dtype, count=count, offset=pos)

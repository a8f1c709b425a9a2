"""Compression codecs for sealed column chunks.

The storage tiers call three functions:

- ``encode_column(values, validity=None, *, kind, codec="auto") -> bytes``
- ``decode_column(buf, *, source="<memory>", offset=0) -> (values, validity)``
- ``codec_name(buf) -> str``

Every block carries a header (magic, version, codec, kind, lengths) and a CRC-32; a
damaged or truncated block raises ``tsengine.errors.CorruptionError`` naming the source
and byte offset. Every value round-trips bit for bit (NaN payloads, -0.0, subnormals,
infinities, INT64_MIN/MAX). Single-codec functions (``encode_alp``, ``encode_gorilla``,
``encode_chimp128``, ``encode_time``, ...) exist for benchmarks and comparisons; their
blocks also decode with ``decode_column``.
"""

from tsengine.codecs._frame import MAX_ROWS
from tsengine.codecs.alp import decode_alp, encode_alp
from tsengine.codecs.booleans import decode_bool, encode_bool
from tsengine.codecs.chimp import decode_chimp128, encode_chimp128
from tsengine.codecs.column import (
    CODECS_BY_KIND,
    codec_name,
    decode_column,
    encode_column,
)
from tsengine.codecs.gorilla import decode_gorilla, encode_gorilla
from tsengine.codecs.integers import decode_int, decode_time, encode_int, encode_time
from tsengine.codecs.strings import decode_string, encode_string

__all__ = [
    "CODECS_BY_KIND",
    "MAX_ROWS",
    "codec_name",
    "decode_alp",
    "decode_bool",
    "decode_chimp128",
    "decode_column",
    "decode_gorilla",
    "decode_int",
    "decode_string",
    "decode_time",
    "encode_alp",
    "encode_bool",
    "encode_chimp128",
    "encode_column",
    "encode_gorilla",
    "encode_int",
    "encode_string",
    "encode_time",
]

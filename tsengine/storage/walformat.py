"""The byte layout of write-ahead log files, the scan that validates them and the
repair of a torn tail.

A log file is a 20-byte file header followed by records, nothing else::

    file header  magic b"TSEWAL" | u16 version | u64 first_seq | u32 crc32(previous 16)
    record       header (28 bytes) | payload (length bytes)
    header       magic b"WREC" | u8 kind | u8 flags=0 | u16 reserved=0 | u32 length
                 | u64 seq | u32 crc32(payload) | u32 crc32(previous 24 header bytes)

All integers are little-endian. The header carries its own crc so that a damaged
length field is detected and never trusted: after damage the scan looks for the next
record whose header and payload both check out. Every byte of a file is covered by a
checksum, so any flipped byte is found.

A damaged region is a *torn tail* when it lies in the newest file and no valid record
follows it: that is what an interrupted append leaves, and recovery cuts it off. Any
other damaged region loses acknowledged data and is reported as corruption.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

from tsengine.errors import CorruptionError
from tsengine.storage._crc import crc32
from tsengine.storage._fsio import fsync_dir
from tsengine.storage.diagnostics import corruption

FILE_MAGIC = b"TSEWAL"
FORMAT_VERSION = 1
FILE_HEADER = struct.Struct("<6sHQI")
RECORD_MAGIC = b"WREC"
RECORD_HEADER = struct.Struct("<4sBBHIQII")

#: Largest payload one record may carry, in bytes. A write call bigger than this must
#: be split by the caller; the bound also keeps a damaged scan from trusting huge sizes.
MAX_PAYLOAD = 1 << 30

#: Record kinds.
KIND_TABLE = 1
KIND_WRITE = 2
KINDS = frozenset({KIND_TABLE, KIND_WRITE})


def file_name(first_seq: int) -> str:
    """Name of the log file whose first record has sequence ``first_seq``."""
    return f"{first_seq:020d}.wal"


def pack_file_header(first_seq: int) -> bytes:
    """The 20-byte header that starts every log file."""
    head = struct.pack("<6sHQ", FILE_MAGIC, FORMAT_VERSION, first_seq)
    return head + struct.pack("<I", crc32(head))


def pack_record_header(kind: int, seq: int, length: int, payload_crc: int) -> bytes:
    """The 28-byte header of one record whose payload has ``length`` bytes and crc32
    ``payload_crc``."""
    head = struct.pack("<4sBBHIQI", RECORD_MAGIC, kind, 0, 0, length, seq, payload_crc)
    return head + struct.pack("<I", crc32(head))


@dataclass(frozen=True)
class RecordLocation:
    """Where one valid record sits: file, offset of its header, kind, seq, length."""

    path: Path
    offset: int
    kind: int
    seq: int
    length: int

    @property
    def payload_offset(self) -> int:
        """Byte offset of the payload in ``path``."""
        return self.offset + RECORD_HEADER.size


@dataclass
class FileScan:
    """What a scan found in one log file.

    ``records`` are the valid records in order; ``errors`` the damaged regions that
    lose data; ``torn_at`` the offset where a torn tail starts (None if none), which
    recovery truncates to.
    """

    path: Path
    size: int
    header_ok: bool
    records: list[RecordLocation] = field(default_factory=list)
    errors: list[CorruptionError] = field(default_factory=list)
    torn_at: int | None = None
    torn_reason: str = ""  # what the check of the torn record found

    @property
    def last_seq(self) -> int | None:
        """Sequence of the last valid record, or None when the file holds none."""
        return self.records[-1].seq if self.records else None


def _check_record(data: bytes, pos: int) -> tuple[int, int, int] | str:
    """Validate the record at ``pos``: return (kind, seq, length) or what is wrong."""
    size = len(data)
    if size - pos < RECORD_HEADER.size:
        return f"record header cut short ({size - pos} of {RECORD_HEADER.size} bytes)"
    magic, kind, flags, reserved, length, seq, pcrc, hcrc = RECORD_HEADER.unpack_from(
        data, pos
    )
    if magic != RECORD_MAGIC:
        return f"bad record magic {magic!r}"
    if crc32(data[pos : pos + RECORD_HEADER.size - 4]) != hcrc:
        return "record header crc32 mismatch"
    if kind not in KINDS or flags or reserved or length > MAX_PAYLOAD:
        return f"invalid record header (kind {kind}, length {length})"
    start = pos + RECORD_HEADER.size
    if start + length > size:
        return f"payload cut short ({size - start} of {length} bytes)"
    if crc32(data[start : start + length]) != pcrc:
        return "payload crc32 mismatch"
    return kind, seq, length


def _next_valid(data: bytes, pos: int) -> int | None:
    """Offset of the first valid record strictly after ``pos``, or None."""
    while True:
        pos = data.find(RECORD_MAGIC, pos + 1)
        if pos < 0:
            return None
        if not isinstance(_check_record(data, pos), str):
            return pos


def scan_file(path: Path, data: bytes, *, is_last: bool, prev_seq: int) -> FileScan:
    """Validate every record of one log file.

    Parameters
    ----------
    path : Path
        The file, used in error messages.
    data : bytes
        Its whole content.
    is_last : bool
        Whether this is the newest log file; only there can damage be a torn tail.
    prev_seq : int
        Sequence of the last valid record before this file (0 if none); records must
        have strictly greater, increasing sequences.

    Returns
    -------
    FileScan
        Never raises for damaged content; damage is described in the result.
    """
    scan = FileScan(path=path, size=len(data), header_ok=False)

    # File header: an interrupted file creation in the newest file is a torn tail
    if len(data) < FILE_HEADER.size:
        if is_last:
            scan.torn_at = 0
        else:
            scan.errors.append(corruption(path, 0, "file header cut short"))
        return scan
    magic, version, _first, crc = FILE_HEADER.unpack_from(data, 0)
    if magic != FILE_MAGIC or crc32(data[: FILE_HEADER.size - 4]) != crc:
        scan.errors.append(corruption(path, 0, "damaged log file header"))
    elif version != FORMAT_VERSION:
        scan.errors.append(corruption(path, 0, f"unknown log format version {version}"))
        return scan
    else:
        scan.header_ok = True

    # Records: take each valid one; on damage, resynchronise on the next valid one
    pos = FILE_HEADER.size
    while pos < len(data):
        found = _check_record(data, pos)
        if not isinstance(found, str):
            kind, seq, length = found
            end = pos + RECORD_HEADER.size + length
            if seq <= prev_seq:
                scan.errors.append(
                    corruption(
                        path, pos, f"sequence {seq} does not follow {prev_seq}; skipped"
                    )
                )
            else:
                scan.records.append(RecordLocation(path, pos, kind, seq, length))
                prev_seq = seq
            pos = end
            continue
        resume = _next_valid(data, pos)
        if resume is None and is_last:
            scan.torn_at, scan.torn_reason = pos, found
            break
        stop = len(data) if resume is None else resume
        scan.errors.append(
            corruption(path, pos, f"{found}; {stop - pos} bytes up to {stop} lost")
        )
        if resume is None:
            break
        pos = resume
    return scan


def scan_directory(directory: Path) -> list[FileScan]:
    """Scan every ``*.wal`` file of ``directory``, oldest first; only reads."""
    paths = sorted(directory.glob("*.wal"))
    scans = []
    prev = 0
    for i, path in enumerate(paths):
        scan = scan_file(
            path, path.read_bytes(), is_last=i == len(paths) - 1, prev_seq=prev
        )
        scans.append(scan)
        prev = scan.last_seq or prev
    return scans


def cut_torn_tail(scan: FileScan) -> None:
    """Truncate ``scan.path`` at its torn tail durably (delete it if no header is
    left)."""
    if scan.torn_at < FILE_HEADER.size:
        scan.path.unlink()
    else:
        fd = os.open(scan.path, os.O_WRONLY)
        try:
            os.ftruncate(fd, scan.torn_at)
            os.fsync(fd)
        finally:
            os.close(fd)
    fsync_dir(scan.path.parent)

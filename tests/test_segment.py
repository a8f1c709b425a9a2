"""Segment files: golden bytes, atomic writing, and damage that stays local.

The oracle is the list of chunks the test wrote: whatever a damaged file still yields
must be among them, unchanged, and every chunk not touched by the damage must come
back.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tsengine.errors import CorruptionError
from tsengine.storage import StorageFormatError
from tsengine.storage.segment import Chunk, SegmentReader, write_segment

# One chunk of table "pump", series ("A",), times 1..2, blocks time=0102 and v=ff,
# meta {"codec": "raw"}, as format version 1 writes it.
GOLDEN_SEGMENT = (
    b"TSESEG\x01\x00\xb0\xfdQFCHNK\x8c\x00\x00\x00\t\xa2Q\x7f"
    b'{"blocks":[["time",164,2,3066839698],["v",166,1,4278190080]],"key":["A"],'
    b'"meta":{"codec":"raw"},"rows":2,"t_max":2,"t_min":1,"table":"pump"}'
    b"\x01\x02\xff"
    b"\x0c\x00\x00\x00\x00\x00\x00\x00\x8c\x00\x00\x00\t\xa2Q\x7f"
    b"\xa7\x00\x00\x00\x00\x00\x00\x00\x10\x00\x00\x004\xce\xe3\x8bTSESEGFT"
)
GOLDEN_CHUNK = Chunk("pump", ("A",), 1, 2, 2, {"time": b"\x01\x02", "v": b"\xff"})
GOLDEN_CHUNK.meta = {"codec": "raw"}


def sample_chunks() -> list[Chunk]:
    return [
        Chunk(
            "pump", ("A", "P-1"), 0, 90, 10, {"time": b"t" * 40, "v": os.urandom(80)}
        ),
        Chunk("pump", ("A", None), -5, 5, 2, {"time": b"\x00\x01", "v": b""}),
        Chunk("flow", (), 10, 10, 1, {"time": b"T", "q": b"Q" * 500}, {"codec": "x"}),
        Chunk("pump", ("B", "P-\u00e9"), 7, 8, 2, {}),
    ]


def read_all(path, errors=None) -> list[Chunk]:
    with SegmentReader(path) as reader:
        if errors is not None:
            errors.extend(reader.errors)
        return list(reader.chunks(errors))


def test_golden_bytes(tmp_path):
    path = tmp_path / "g.seg"
    size, entries = write_segment(path, [GOLDEN_CHUNK])
    assert size == len(GOLDEN_SEGMENT)
    assert path.read_bytes() == GOLDEN_SEGMENT
    (tmp_path / "old.seg").write_bytes(GOLDEN_SEGMENT)
    assert read_all(tmp_path / "old.seg") == [GOLDEN_CHUNK]
    with SegmentReader(path) as reader:
        assert reader.entries == entries  # the writer's index is the reader's


def test_round_trip_and_index(tmp_path):
    chunks = sample_chunks()
    path = tmp_path / "s.seg"
    written = write_segment(path, chunks)
    assert os.listdir(tmp_path) == ["s.seg"]  # no temporary file left behind
    assert written.size == path.stat().st_size
    with SegmentReader(path) as reader:
        assert reader.entries == written.entries
    errors: list = []
    assert read_all(path, errors) == chunks and errors == []
    with SegmentReader(path) as reader:
        entry = reader.entries[2]
        assert (entry.table, entry.series_key, entry.rows) == ("flow", (), 1)
        assert reader.read_block(entry, "q") == b"Q" * 500
        with pytest.raises(KeyError, match="'nope'"):
            reader.read_block(entry, "nope")


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(min_size=1, max_size=8),
            st.lists(st.text(max_size=4) | st.none(), max_size=3),
            st.integers(-(2**63), 2**63 - 1),
            st.dictionaries(st.text(max_size=6), st.binary(max_size=300), max_size=4),
        ),
        max_size=5,
    )
)
def test_round_trip_property(tmp_path_factory, raw):
    chunks = [Chunk(t, tuple(k), tm, tm, len(b), b) for t, k, tm, b in raw]
    path = tmp_path_factory.mktemp("prop") / "p.seg"
    write_segment(path, chunks)
    assert read_all(path) == chunks


def test_every_flipped_byte_is_detected_and_stays_local(tmp_path):
    chunks = sample_chunks()
    path = tmp_path / "s.seg"
    write_segment(path, chunks)
    good = path.read_bytes()
    with SegmentReader(path) as reader:
        spans = [(e.offset, e.end) for e in reader.entries]

    damaged_path = tmp_path / "d.seg"
    for at in range(len(good)):
        data = bytearray(good)
        data[at] ^= 0x04
        damaged_path.write_bytes(bytes(data))
        errors: list = []
        got = read_all(damaged_path, errors)

        # Detected, located inside the file, never a wrong chunk
        assert errors, f"flip at byte {at} went unnoticed"
        assert all(0 <= e.offset < len(good) for e in errors)
        assert all(str(damaged_path) in str(e) for e in errors)
        assert all(c in chunks for c in got), f"flip at byte {at} changed a chunk"

        # Chunks whose bytes were not touched still read
        untouched = [c for c, (lo, hi) in zip(chunks, spans) if not lo <= at < hi]
        missing = [c for c in untouched if c not in got]
        assert not missing, f"flip at byte {at} lost untouched chunks"


def test_damaged_block_names_file_and_offset(tmp_path):
    chunks = sample_chunks()
    path = tmp_path / "s.seg"
    write_segment(path, chunks)
    with SegmentReader(path) as reader:
        entry = reader.entries[2]
        (_name, offset, _length, _crc) = entry.blocks[1]
    data = bytearray(path.read_bytes())
    data[offset + 100] ^= 0xFF
    path.write_bytes(bytes(data))
    with SegmentReader(path) as reader:
        assert reader.errors == []  # the index is fine; the block fails on read
        with pytest.raises(CorruptionError) as info:
            reader.read_chunk(reader.entries[2])
        assert info.value.offset == offset and info.value.path == str(path)
        assert f"byte offset {offset}" in str(info.value) and "'q'" in str(info.value)
        errors: list = []
        assert list(reader.chunks(errors)) == chunks[:2] + chunks[3:]
        assert [e.offset for e in errors] == [offset]


def test_truncated_file_keeps_complete_chunks(tmp_path):
    chunks = sample_chunks()
    path = tmp_path / "s.seg"
    write_segment(path, chunks)
    good = path.read_bytes()
    with SegmentReader(path) as reader:
        ends = [e.end for e in reader.entries]
    for cut in range(0, len(good), 7):
        path.write_bytes(good[:cut])
        errors: list = []
        got = read_all(path, errors)
        assert errors
        assert got == [c for c, end in zip(chunks, ends) if end <= cut]


def test_unknown_version_is_a_format_error(tmp_path):
    import struct
    import zlib

    head = struct.pack("<6sH", b"TSESEG", 9)
    path = tmp_path / "v9.seg"
    path.write_bytes(head + struct.pack("<I", zlib.crc32(head)) + GOLDEN_SEGMENT[12:])
    with pytest.raises(StorageFormatError, match="version 9"):
        SegmentReader(path)


def test_garbage_file_reports_without_crashing(tmp_path):
    path = tmp_path / "junk.seg"
    for size in (0, 5, 40, 5000):
        path.write_bytes(os.urandom(size))
        errors: list = []
        assert read_all(path, errors) == []
        assert errors and all(isinstance(e, CorruptionError) for e in errors)


def test_failed_write_leaves_previous_file(tmp_path):
    path = tmp_path / "s.seg"
    write_segment(path, [GOLDEN_CHUNK])

    def exploding():
        yield sample_chunks()[0]
        raise RuntimeError("injected failure mid-write")

    with pytest.raises(RuntimeError, match="injected"):
        write_segment(path, exploding())
    assert path.read_bytes() == GOLDEN_SEGMENT
    assert os.listdir(tmp_path) == ["s.seg"]

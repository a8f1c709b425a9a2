"""Write-ahead log: format, torn tails, corruption in the middle, fsync modes, rotation.

Expected values come from the records the test itself appended (the oracle is the
list of payloads in order) and from committed golden bytes of the file format.
"""

from __future__ import annotations

import errno
import math
import os
import threading
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from tsengine.errors import CorruptionError
from tsengine.storage import StorageError, StorageWarning
from tsengine.storage import walformat as fmt
from tsengine.storage.records import decode_definition, decode_write, encode_definition
from tsengine.storage.wal import WriteAheadLog

# A log file holding a table definition then a write of 2 rows (time, site, v), as
# written by format version 1. Changing the format must change this test on purpose.
GOLDEN_LOG = bytes.fromhex(
    """
    54534557414c010001000000000000005ff2288a5752454301000000380000000100000000000000
    f9eace7648a0b5e37b226e616d65223a2270756d70222c2274616773223a5b2273697465225d2c22
    6669656c6473223a7b2276223a22666c6f61743634227d7d57524543020000004402000002000000
    00000000d6e56e3c00024320010000000400000070756d703002000000000000ffffffffe0000000
    1000000000000a000c000600050008000a000000000104000c000000080008000000040008000000
    0400000003000000740000003400000004000000a8ffffff00000103100000001800000004000000
    000000000100000076000600080006000600000000000200d4ffffff00000105100000001c000000
    04000000000000000400000073697465000000000400040004000000100014000800060007000c00
    000010001000000000000102100000002000000004000000000000000400000074696d6500000000
    08000c000800070008000000000000014000000000000000fffffffff80000001400000000000000
    0c0016000600050008000c000c0000000003040018000000400000000000000000000a0018000c00
    040008000a0000008c00000010000000020000000000000000000000070000000000000000000000
    00000000000000000000000000000000100000000000000010000000000000000100000000000000
    18000000000000000c00000000000000280000000000000001000000000000003000000000000000
    00000000000000003000000000000000100000000000000000000000030000000200000000000000
    00000000000000000200000000000000010000000000000002000000000000000000000000000000
    01000000000000000200000000000000010000000000000000000000010000000100000000000000
    4100000000000000000000000000e03f000000000000f87fffffffff00000000
    """
)
GOLDEN_DEFINITION = {"name": "pump", "tags": ["site"], "fields": {"v": "float64"}}
DEF_RECORD_END = 104  # the definition record ends here; the write record follows


def payloads(n: int) -> list[bytes]:
    """Distinct payloads of varied length, some empty."""
    return [bytes([i % 251]) * (i * 7 % 50) for i in range(n)]


def write_log(directory: Path, items: list[bytes], **kw) -> list[int]:
    with WriteAheadLog(directory, durability="none", **kw) as log:
        return [log.append(fmt.KIND_WRITE, p) for p in items]


def replayed(directory: Path, **kw) -> list[bytes]:
    with WriteAheadLog(directory, durability="none", **kw) as log:
        return [r.payload for r in log.replay()]


def only_file(directory: Path) -> Path:
    (path,) = sorted(directory.glob("*.wal"))
    return path


def record_offsets(path: Path) -> list[int]:
    """Offsets where records start, found with the scanner on an intact file."""
    scan = fmt.scan_file(path, path.read_bytes(), is_last=True, prev_seq=0)
    assert not scan.errors and scan.torn_at is None
    return [r.offset for r in scan.records]


# -- format --------------------------------------------------------------------------


def test_golden_definition_record_bytes(tmp_path):
    with WriteAheadLog(tmp_path, durability="none") as log:
        log.append(fmt.KIND_TABLE, encode_definition(GOLDEN_DEFINITION))
    assert only_file(tmp_path).read_bytes() == GOLDEN_LOG[:DEF_RECORD_END]


def test_golden_log_replays(tmp_path):
    (tmp_path / fmt.file_name(1)).write_bytes(GOLDEN_LOG)
    with WriteAheadLog(tmp_path, durability="none") as log:
        first, second = log.replay()
        assert log.errors == []
    assert (first.seq, first.kind) == (1, fmt.KIND_TABLE)
    assert decode_definition(first.payload) == GOLDEN_DEFINITION
    assert (second.seq, second.kind) == (2, fmt.KIND_WRITE)
    table = decode_write(second.payload)["pump"]
    assert table.column("time").to_pylist() == [1, 2]
    assert table.column("site").to_pylist() == ["A", None]
    values = table.column("v").to_pylist()
    assert values[0] == 0.5 and math.isnan(values[1])


def test_accelerated_crc32_matches_zlib():
    import zlib

    from tsengine.storage._crc import crc32

    rng = np.random.default_rng(5)
    for size in (0, 1, 7, 64, 4096, 100_003):
        data = rng.bytes(size)
        seed = int(rng.integers(0, 2**32))
        assert crc32(data) == zlib.crc32(data)
        assert crc32(data, seed) == zlib.crc32(data, seed)
        assert crc32(memoryview(data)[3:], seed) == zlib.crc32(data[3:], seed)


def test_round_trip_and_sequences(tmp_path):
    items = payloads(40)
    assert write_log(tmp_path, items) == list(range(1, 41))
    assert replayed(tmp_path) == items
    with WriteAheadLog(tmp_path, durability="none") as log:
        assert [r.seq for r in log.replay(after_seq=30)] == list(range(31, 41))
        assert log.append(fmt.KIND_WRITE, b"more") == 41


def test_append_accepts_a_list_of_parts(tmp_path):
    write_log(tmp_path, [])
    with WriteAheadLog(tmp_path, durability="none") as log:
        log.append(fmt.KIND_WRITE, [b"ab", memoryview(b"cd"), bytearray(b"e")])
    assert replayed(tmp_path) == [b"abcde"]


def test_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="'fast'"):
        WriteAheadLog(tmp_path, durability="fast")
    with pytest.raises(ValueError, match="-1"):
        WriteAheadLog(tmp_path, sync_interval=-1)
    with WriteAheadLog(tmp_path, durability="none") as log:
        with pytest.raises(ValueError, match="99"):
            log.append(99, b"x")


# -- torn tails ----------------------------------------------------------------------


def test_torn_tail_cut_at_every_byte_of_last_record(tmp_path):
    items = payloads(3) + [b"last record payload"]
    source = tmp_path / "source"
    write_log(source, items)
    good = only_file(source).read_bytes()
    last_start = record_offsets(only_file(source))[-1]

    for cut in range(last_start + 1, len(good)):
        case = tmp_path / f"cut{cut}"
        case.mkdir()
        path = case / only_file(source).name
        path.write_bytes(good[:cut])
        with pytest.warns(StorageWarning, match=f"byte offset {last_start}"):
            log = WriteAheadLog(case, durability="none")
        assert log.errors == []
        assert [r.payload for r in log.replay()] == items[:-1]
        assert path.stat().st_size == last_start
        assert log.append(fmt.KIND_WRITE, b"after") == len(items)
        log.close()
        assert replayed(case) == items[:-1] + [b"after"]


def test_torn_tail_of_garbage_or_zeros(tmp_path):
    items = payloads(5)
    write_log(tmp_path, items)
    path = only_file(tmp_path)
    good = path.read_bytes()
    for tail in (b"\0" * 300, b"WREC" + b"\x07" * 40, os.urandom(64)):
        path.write_bytes(good + tail)
        with pytest.warns(StorageWarning, match="torn"):
            assert replayed(tmp_path) == items
        assert path.read_bytes() == good


def test_zeroed_last_record_is_a_torn_tail(tmp_path):
    # A file system may extend a file with zeros when a crash interrupted the write
    items = payloads(4) + [b"x" * 40]
    write_log(tmp_path, items)
    path = only_file(tmp_path)
    data = bytearray(path.read_bytes())
    last = record_offsets(path)[-1]
    data[last + fmt.RECORD_HEADER.size :] = bytes(len(data) - last - 28)
    path.write_bytes(bytes(data) + bytes(100))
    with pytest.warns(StorageWarning, match="torn"):
        assert replayed(tmp_path) == items[:-1]


def test_torn_file_header_removes_the_empty_file(tmp_path):
    write_log(tmp_path, payloads(3), max_file_bytes=1)
    files = sorted(tmp_path.glob("*.wal"))
    newest = tmp_path / fmt.file_name(100)
    newest.write_bytes(fmt.pack_file_header(100)[:7])
    with pytest.warns(StorageWarning, match="byte offset 0"):
        assert replayed(tmp_path) == payloads(3)
    assert sorted(tmp_path.glob("*.wal")) == files


# -- corruption in the middle ----------------------------------------------------------


@pytest.mark.parametrize("record", [0, 2])
def test_flipped_byte_in_a_middle_record_is_reported_and_skipped(tmp_path, record):
    items = payloads(4) + [b"p" * 30]
    source = tmp_path / "source"
    write_log(source, items)
    good = only_file(source).read_bytes()
    starts = record_offsets(only_file(source))
    end = starts[record + 1]

    for at in range(starts[record], end):
        case = tmp_path / f"flip{at}"
        case.mkdir()
        path = case / only_file(source).name
        damaged = bytearray(good)
        damaged[at] ^= 0x10
        path.write_bytes(bytes(damaged))

        # Default mode: reported with file and offset, the rest replays
        with pytest.warns(StorageWarning, match="damaged"):
            log = WriteAheadLog(case, durability="none")
        (err,) = log.errors
        assert isinstance(err, CorruptionError)
        assert (err.path, err.offset) == (str(path), starts[record])
        assert str(path) in str(err) and f"byte offset {starts[record]}" in str(err)
        expected = items[:record] + items[record + 1 :]
        assert [r.payload for r in log.replay()] == expected
        log.close()

        # Strict mode raises and changes nothing on disk
        with pytest.raises(CorruptionError, match=f"byte offset {starts[record]}"):
            WriteAheadLog(case, durability="none", on_corruption="raise")
        assert path.read_bytes() == bytes(damaged)


def test_damage_at_end_of_an_older_file_is_corruption_not_torn(tmp_path):
    write_log(tmp_path, payloads(6), max_file_bytes=80)
    files = sorted(tmp_path.glob("*.wal"))
    assert len(files) > 2
    older = files[0]
    data = older.read_bytes()
    cut_seq = fmt.scan_file(older, data, is_last=False, prev_seq=0).last_seq
    older.write_bytes(data[:-3])
    with pytest.warns(StorageWarning, match="damaged"):
        log = WriteAheadLog(tmp_path, durability="none")
    assert [e.path for e in log.errors] == [str(older)]
    assert [r.seq for r in log.replay()] == [s for s in range(1, 7) if s != cut_seq]
    log.close()
    assert older.stat().st_size == len(data) - 3  # damage is reported, not repaired


def test_random_damage_never_crashes_or_invents_records(tmp_path):
    items = payloads(12)
    source = tmp_path / "source"
    write_log(source, items)
    good = only_file(source).read_bytes()
    rng = np.random.default_rng(3)
    for case in range(150):
        data = bytearray(good)
        for _ in range(int(rng.integers(1, 6))):
            at = int(rng.integers(0, len(data)))
            action = rng.integers(0, 3)
            if action == 0:
                data[at] = int(rng.integers(0, 256))
            elif action == 1:
                del data[at : at + int(rng.integers(1, 40))]
            else:
                data[at:at] = rng.bytes(int(rng.integers(1, 40)))
        directory = tmp_path / f"case{case}"
        directory.mkdir()
        (directory / only_file(source).name).write_bytes(bytes(data))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", StorageWarning)
            with WriteAheadLog(directory, durability="none") as log:
                got = list(log.replay())
                assert all(isinstance(e, CorruptionError) for e in log.errors)
        # Whatever survives is an original record under its own sequence
        assert all(r.payload == items[r.seq - 1] for r in got)
        assert [r.seq for r in got] == sorted({r.seq for r in got})


def test_damaged_file_that_lost_every_record_is_set_aside(tmp_path):
    write_log(tmp_path, payloads(3), max_file_bytes=1)
    last = sorted(tmp_path.glob("*.wal"))[-1]
    scan = fmt.scan_file(last, last.read_bytes(), is_last=True, prev_seq=0)
    (record,) = scan.records
    # Damage the header and the only record of the newest file
    data = bytearray(last.read_bytes())
    data[3] ^= 0xFF
    data[record.payload_offset - 5] ^= 0xFF
    last.write_bytes(bytes(data))
    with pytest.warns(StorageWarning):
        log = WriteAheadLog(tmp_path, durability="none")
    assert [e.offset for e in log.errors] == [0]
    assert log.append(fmt.KIND_WRITE, b"new") == record.seq
    assert log.size_bytes == sum(p.stat().st_size for p in tmp_path.glob("*.wal"))
    log.close()
    assert (tmp_path / (last.name + ".damaged")).exists()


def test_flipped_file_header_is_reported(tmp_path):
    items = payloads(3)
    write_log(tmp_path, items)
    path = only_file(tmp_path)
    data = bytearray(path.read_bytes())
    data[9] ^= 1  # inside first_seq
    path.write_bytes(bytes(data))
    with pytest.warns(StorageWarning):
        log = WriteAheadLog(tmp_path, durability="none")
    assert [e.offset for e in log.errors] == [0]
    assert [r.payload for r in log.replay()] == items
    log.close()


def test_replay_detects_change_after_open(tmp_path):
    write_log(tmp_path, payloads(5))
    path = only_file(tmp_path)
    offset = record_offsets(path)[3]
    with WriteAheadLog(tmp_path, durability="none") as log:
        data = bytearray(path.read_bytes())
        data[-1] ^= 0xFF
        path.write_bytes(bytes(data))
        with pytest.raises(CorruptionError, match="changed since open"):
            list(log.replay())
    assert offset > 0


# -- durability modes ------------------------------------------------------------------


@pytest.fixture
def fsyncs(monkeypatch):
    """Count os.fsync calls (and still perform them)."""
    calls = []
    real = os.fsync

    def counting(fd):
        calls.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fsync", counting)
    return calls


def test_sync_mode_fsyncs_before_append_returns(tmp_path, fsyncs):
    with WriteAheadLog(tmp_path, durability="sync") as log:
        for i in range(5):
            before = len(fsyncs)
            seq = log.append(fmt.KIND_WRITE, b"x" * i)
            assert len(fsyncs) == before + 1
            assert log.durable_seq == seq == i + 1


def test_none_mode_never_fsyncs_appends(tmp_path, fsyncs):
    with WriteAheadLog(tmp_path, durability="none") as log:
        start = len(fsyncs)
        for _ in range(20):
            log.append(fmt.KIND_WRITE, b"abc")
        assert len(fsyncs) == start
        assert log.last_seq == 20
        assert log.sync() == 20  # an explicit sync still works
        assert len(fsyncs) == start + 1


def test_interval_mode_returns_before_fsync_then_syncs(tmp_path, monkeypatch):
    synced = threading.Event()
    real = os.fsync
    calls = []

    def recording(fd):
        calls.append(threading.current_thread().name)
        real(fd)
        synced.set()

    with WriteAheadLog(tmp_path, durability="interval", sync_interval=0.01) as log:
        monkeypatch.setattr(os, "fsync", recording)
        seq = log.append(fmt.KIND_WRITE, b"payload")
        assert calls.count("MainThread") == 0  # append itself did not fsync
        assert synced.wait(30), "background thread never fsynced"
        deadline = threading.Event()
        while log.durable_seq < seq and not deadline.wait(0.01):
            pass
        assert log.durable_seq == seq
        assert "tsengine-wal-sync" in calls


def test_interval_mode_close_syncs_pending(tmp_path, fsyncs):
    log = WriteAheadLog(tmp_path, durability="interval", sync_interval=3600)
    start = len(fsyncs)
    seq = log.append(fmt.KIND_WRITE, b"x")
    assert len(fsyncs) == start and log.durable_seq < seq
    log.close()
    assert len(fsyncs) == start + 1 and log.durable_seq == seq


def test_failed_fsync_poisons_the_log(tmp_path, monkeypatch):
    log = WriteAheadLog(tmp_path, durability="sync")
    log.append(fmt.KIND_WRITE, b"fine")

    def failing(fd):
        raise OSError(errno.EIO, "injected I/O error")

    monkeypatch.setattr(os, "fsync", failing)
    with pytest.raises(StorageError, match="injected"):
        log.append(fmt.KIND_WRITE, b"lost?")
    monkeypatch.undo()
    with pytest.raises(StorageError, match="failed to fsync earlier"):
        log.append(fmt.KIND_WRITE, b"refused")
    log.close()


def test_failed_write_leaves_no_partial_record(tmp_path, monkeypatch):
    log = WriteAheadLog(tmp_path, durability="none")
    log.append(fmt.KIND_WRITE, b"first")
    real = os.writev
    calls = []

    def part_then_fail(fd, buffers):
        # The first call writes a few bytes, the next one finds the disk full
        calls.append(len(buffers))
        if len(calls) == 1:
            return real(fd, [bytes(buffers[0])[:5]])
        raise OSError(errno.ENOSPC, "injected disk full")

    monkeypatch.setattr(os, "writev", part_then_fail)
    with pytest.raises(OSError, match="disk full"):
        log.append(fmt.KIND_WRITE, b"second" * 10)
    monkeypatch.undo()
    assert len(calls) == 2
    assert log.append(fmt.KIND_WRITE, b"third") == 2
    log.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert replayed(tmp_path) == [b"first", b"third"]


def test_short_writes_are_resumed(tmp_path, monkeypatch):
    real = os.writev

    def trickle(fd, buffers):
        # At most 7 bytes per call, often splitting a buffer
        data = b"".join(bytes(b) for b in buffers)[:7]
        return real(fd, [data])

    items = payloads(12)
    with WriteAheadLog(tmp_path, durability="none") as log:
        monkeypatch.setattr(os, "writev", trickle)
        for p in items:
            log.append(fmt.KIND_WRITE, [p[:3], b"", p[3:]])
        monkeypatch.undo()
    assert replayed(tmp_path) == items


def test_closed_log_refuses_appends(tmp_path):
    log = WriteAheadLog(tmp_path, durability="none")
    log.close()
    with pytest.raises(StorageError, match="closed"):
        log.append(fmt.KIND_WRITE, b"x")


# -- rotation and truncation --------------------------------------------------------


def test_rotation_by_size_and_names_by_first_seq(tmp_path):
    items = payloads(30)
    write_log(tmp_path, items, max_file_bytes=200)
    files = sorted(tmp_path.glob("*.wal"))
    assert len(files) > 3
    firsts = [int(p.stem) for p in files]
    for path, first in zip(files, firsts, strict=True):
        scan = fmt.scan_file(path, path.read_bytes(), is_last=True, prev_seq=0)
        assert scan.records[0].seq == first
        # A file only exceeds the limit by its last record
        assert scan.records[-1].offset < 200
    assert replayed(tmp_path, max_file_bytes=200) == items


def test_truncate_through_deletes_covered_files_and_numbering_continues(tmp_path):
    items = payloads(30)
    with WriteAheadLog(tmp_path, durability="sync", max_file_bytes=200) as log:
        for p in items:
            log.append(fmt.KIND_WRITE, p)
        deleted = log.truncate_through(20)
        assert deleted
    with WriteAheadLog(tmp_path, durability="sync", max_file_bytes=200) as log:
        assert [r.seq for r in log.replay(after_seq=20)] == list(range(21, 31))
        assert min(r.seq for r in log.replay()) <= 21
    remaining = sorted(tmp_path.glob("*.wal"))
    assert all(p not in remaining for p in deleted)

    # Everything covered: the live file rotates away too; numbering continues
    with WriteAheadLog(tmp_path, durability="sync") as log:
        assert [r.seq for r in log.replay(after_seq=20)] == list(range(21, 31))
        log.truncate_through(30)
    assert [p.name for p in tmp_path.glob("*.wal")] == [fmt.file_name(31)]
    with WriteAheadLog(tmp_path, durability="sync", next_seq=31) as log:
        assert list(log.replay()) == []
        assert log.append(fmt.KIND_WRITE, b"next") == 31


def test_size_bytes_counts_all_files(tmp_path):
    write_log(tmp_path, payloads(30), max_file_bytes=150)
    on_disk = sum(p.stat().st_size for p in tmp_path.glob("*.wal"))
    with WriteAheadLog(tmp_path, durability="none", max_file_bytes=150) as log:
        assert log.size_bytes == on_disk
        assert log.files == sorted(tmp_path.glob("*.wal"))


def test_write_record_round_trip_through_log(tmp_path):
    from tsengine.storage.records import encode_write

    t = pa.table({"time": pa.array([3, 1], pa.int64()), "v": [1.5, None]})
    with WriteAheadLog(tmp_path, durability="none") as log:
        log.append(fmt.KIND_WRITE, encode_write({"a": t, "b": t.slice(1)}))
    (rec,) = WriteAheadLog(tmp_path, durability="none").replay()
    got = decode_write(rec.payload)
    assert list(got) == ["a", "b"]
    assert got["a"].equals(t) and got["b"].equals(t.slice(1))

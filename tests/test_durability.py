"""A durable engine survives close, crash (simulated in-process) and damage.

The oracle is an in-memory engine given the same writes: after reopening, every
table must read back identical to it, value for value (floats compared by bit
pattern, so NaN payloads count).
"""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa
import pytest

import tsengine
from tsengine.errors import CorruptionError
from tsengine.storage import StorageError, StorageWarning
from tsengine.storage import walformat as fmt
from tsengine.storage.manifest import SEGMENT_DIR, WAL_DIR, load_manifest
from tsengine.storage.segment import SegmentReader

FIELDS = {"v": "float64", "n": "int64", "u": "uint64", "on": "bool", "s": "string"}


def canon(table: pa.Table) -> dict:
    """Column -> list of values, floats as bit patterns, tags as plain strings."""
    out = {}
    for name in table.column_names:
        col = table.column(name).combine_chunks()
        if pa.types.is_dictionary(col.type):
            col = col.cast(pa.string())
        if pa.types.is_floating(col.type):
            bits = np.asarray(col.fill_null(0.0)).view(np.uint64).tolist()
            valid = col.is_valid().to_pylist()
            out[name] = [b if ok else None for b, ok in zip(bits, valid, strict=True)]
        else:
            out[name] = col.to_pylist()
    return out


def assert_same(engine, oracle) -> None:
    assert engine.tables() == oracle.tables()
    for name in oracle.tables():
        assert engine.definition(name).to_dict() == oracle.definition(name).to_dict()
        assert canon(engine.read(name)) == canon(oracle.read(name)), name


def batch(rng, start: int, n: int, assets=("P-1", "P-2", "P-3"), step: int = 10):
    """n rows spread over a few assets; every field type with nulls and specials."""
    v = np.round(rng.normal(20, 5, n), 2)
    v[rng.random(n) < 0.05] = np.nan
    v[rng.random(n) < 0.02] = -0.0
    return {
        "time": start + step * np.arange(n, dtype=np.int64),
        "site": ["S1"] * n,
        "asset": [assets[i % len(assets)] for i in range(n)],
        "v": v,
        "n": rng.integers(-(2**63), 2**63 - 1, n, dtype=np.int64),
        "u": rng.integers(0, 2**64 - 1, n, dtype=np.uint64),
        "on": rng.random(n) < 0.5,
        "s": pa.array(
            [None if i % 7 == 0 else f"state-{i % 3}" for i in range(n)], pa.string()
        ),
    }


def both(path, **kw):
    """A durable engine and its in-memory oracle with the same table."""
    engine = tsengine.Engine(path, durability=kw.pop("durability", "none"), **kw)
    oracle = tsengine.Engine()
    for e in (engine, oracle):
        e.create_table("pump", tags=["site", "asset"], fields=FIELDS, ring_capacity=256)
    return engine, oracle


def write_both(engine, oracle, table, data) -> None:
    engine.write(table, data)
    oracle.write(table, data)


def abandon(engine) -> None:
    """Simulate a process crash: release the directory without a checkpoint."""
    engine._store.close()
    engine._closed = True


def reopen(path, **kw):
    return tsengine.Engine(path, durability="none", **kw)


# -- round trips -----------------------------------------------------------------------


def test_close_and_reopen_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    engine, oracle = both(tmp_path / "e")
    for i in range(6):
        write_both(engine, oracle, "pump", batch(rng, i * 10_000, 900))
    write_both(engine, oracle, "flow", {"time": np.array([-5, 3]), "q": [1.5, None]})
    engine.close()
    with reopen(tmp_path / "e") as again:
        assert again._store.errors == []
        assert_same(again, oracle)
        assert again.stats()["tables"]["pump"]["sealed_points"] > 0


def test_crash_without_checkpoint_replays_the_log(tmp_path):
    rng = np.random.default_rng(2)
    engine, oracle = both(tmp_path / "e")
    for i in range(4):
        write_both(engine, oracle, "pump", batch(rng, i * 10_000, 700))
    abandon(engine)
    assert os.listdir(tmp_path / "e" / SEGMENT_DIR) == []
    with reopen(tmp_path / "e") as again:
        assert_same(again, oracle)


def test_crash_after_checkpoint_uses_segments_and_log(tmp_path):
    rng = np.random.default_rng(3)
    engine, oracle = both(tmp_path / "e")
    for i in range(3):
        write_both(engine, oracle, "pump", batch(rng, i * 10_000, 800))
    engine.flush()
    assert load_manifest(tmp_path / "e").wal_seq == engine._store.last_seq
    for i in range(3, 5):
        write_both(engine, oracle, "pump", batch(rng, i * 10_000, 800))
    abandon(engine)
    with reopen(tmp_path / "e") as again:
        assert_same(again, oracle)


def test_log_size_triggers_checkpoints_and_bounds_the_log(tmp_path):
    rng = np.random.default_rng(4)
    engine, oracle = both(tmp_path / "e", checkpoint_bytes=30_000, wal_file_bytes=8_000)
    for i in range(80):  # ~0.5 MB of log: far past any bound below
        write_both(engine, oracle, "pump", batch(rng, i * 10_000, 200))
    engine._store.wait_idle()  # checkpoints triggered by writes run in background
    stats = engine.stats()["storage"]
    assert stats["checkpoint_seq"] > 0
    # Writers wait once the log outgrows 4 limits; the limit is checkpoint_bytes or,
    # when the last checkpoint wrote more hot ring bytes, twice those (the rings only
    # grow here, so the last checkpoint's figure is the largest the writes met)
    limit = max(30_000, 2 * engine._store._segments.last_hot_bytes)
    assert stats["wal_bytes"] < 5 * limit
    assert stats["segment_files"] <= 8  # small and half-dead segments are folded
    abandon(engine)
    with reopen(tmp_path / "e") as again:
        assert_same(again, oracle)


def assert_next_checkpoint_adds_only_new_rows(engine, oracle, rng, path, first):
    """A few new rows and a checkpoint: segment ``first`` stays as it was, the new
    segment is small, and reopening gives the oracle's data. Closes ``engine``."""
    write_both(engine, oracle, "pump", batch(rng, 90_000, 30))
    engine.flush()
    first_again, second = load_manifest(path / "e").segments
    assert first_again.file == first.file and first_again.size == first.size
    assert second.size < first.size / 4  # only the new rows and ring snapshots
    engine.close()
    with reopen(path / "e") as again:
        assert_same(again, oracle)


def test_sealed_chunks_are_written_once(tmp_path):
    rng = np.random.default_rng(5)
    engine, oracle = both(tmp_path / "e")
    for i in range(8):
        write_both(engine, oracle, "pump", batch(rng, i * 10_000, 1000))
    engine.flush()
    (first,) = load_manifest(tmp_path / "e").segments
    assert_next_checkpoint_adds_only_new_rows(engine, oracle, rng, tmp_path, first)


def test_out_of_order_merge_and_schema_growth(tmp_path):
    rng = np.random.default_rng(6)
    engine, oracle = both(tmp_path / "e")
    for i in range(5):
        write_both(engine, oracle, "pump", batch(rng, 100_000 + i * 10_000, 900))
    engine.flush()

    # Points far older than the rings rewrite sealed chunks; new field and tag
    write_both(engine, oracle, "pump", batch(rng, 100_005, 500, step=20))
    late = batch(rng, 50, 40)
    late["extra"] = np.arange(40, dtype=np.float64)
    late["line"] = ["L1"] * 40
    for e in (engine, oracle):
        e.write("pump", late, tags=["site", "asset", "line"])
    engine.flush()
    write_both(engine, oracle, "pump", batch(rng, 100_007, 300, step=30))
    abandon(engine)
    with reopen(tmp_path / "e") as again:
        assert again._store.errors == []
        assert_same(again, oracle)


def test_duplicate_policy_applies_across_reopen(tmp_path):
    engine = tsengine.Engine(tmp_path / "e", durability="none")
    engine.create_table("m", fields={"v": "float64"}, duplicates="first")
    engine.write("m", {"time": [1, 2], "v": [1.0, 2.0]})
    engine.close()
    with reopen(tmp_path / "e") as again:
        again.write("m", {"time": [2, 3], "v": [20.0, 3.0]})
        assert again.read("m").column("v").to_pylist() == [1.0, 2.0, 3.0]


# -- damage on disk -------------------------------------------------------------------


def test_corrupted_segment_block_is_reported_and_the_rest_reads(tmp_path):
    rng = np.random.default_rng(7)
    engine, oracle = both(tmp_path / "e")
    for i in range(6):
        write_both(engine, oracle, "pump", batch(rng, i * 10_000, 900))
    engine.close()

    # Flip a byte inside the "v" block of one sealed chunk
    (record,) = load_manifest(tmp_path / "e").segments
    path = tmp_path / "e" / SEGMENT_DIR / record.file
    with SegmentReader(path) as reader:
        entry = reader.entries[3]
        _, offset, length, _ = next(b for b in entry.blocks if b[0] == "v")
    data = bytearray(path.read_bytes())
    data[offset + length // 2] ^= 0x20
    path.write_bytes(bytes(data))

    with pytest.warns(StorageWarning, match="segment damaged"):
        again = reopen(tmp_path / "e")
    (err,) = again._store.errors
    assert isinstance(err, CorruptionError)
    assert err.path == str(path) and err.offset == offset
    assert str(path) in str(err) and f"byte offset {offset}" in str(err)

    # Everything except that chunk's rows is there
    lost = (entry.series_key, entry.t_min, entry.t_max)
    expected = oracle.read("pump")
    keep = ~(
        pa.compute.and_(
            pa.compute.and_(
                pa.compute.equal(expected["asset"].cast(pa.string()), lost[0][1]),
                pa.compute.greater_equal(expected["time"].cast(pa.int64()), lost[1]),
            ),
            pa.compute.less_equal(expected["time"].cast(pa.int64()), lost[2]),
        ).to_numpy(zero_copy_only=False)
    )
    assert canon(again.read("pump")) == canon(expected.filter(pa.array(keep)))
    assert str(path) in " ".join(again.stats()["storage"]["errors"])
    again.close()

    # Nothing changed: the damage is reported again at the next open
    with pytest.warns(StorageWarning, match="segment damaged"):
        again = reopen(tmp_path / "e")
    assert [e.offset for e in again._store.errors] == [offset]

    # Once a checkpoint has rewritten the data, the damaged file is set aside
    again.write("pump", batch(rng, 500_000, 10))
    again.close()
    assert (path.parent / (path.name + ".damaged")).exists()
    with reopen(tmp_path / "e") as last:
        assert last._store.errors == []


def test_corrupted_log_record_is_reported_and_other_writes_replay(tmp_path):
    rng = np.random.default_rng(8)
    engine, oracle = both(tmp_path / "e")
    batches = [batch(rng, i * 10_000, 300) for i in range(5)]
    for b in batches:
        engine.write("pump", b)
    abandon(engine)

    # Flip a byte in the payload of the third write (record 2 is the definition)
    (log,) = sorted((tmp_path / "e" / WAL_DIR).glob("*.wal"))
    scan = fmt.scan_file(log, log.read_bytes(), is_last=True, prev_seq=0)
    target = next(r for r in scan.records if r.seq == 4)
    data = bytearray(log.read_bytes())
    data[target.payload_offset + 40] ^= 0x01
    log.write_bytes(bytes(data))

    with pytest.warns(StorageWarning, match="damaged"):
        again = reopen(tmp_path / "e")
    (err,) = again._store.errors
    assert (err.path, err.offset) == (str(log), target.offset)
    for i, b in enumerate(batches):
        if i != 2:
            oracle.write("pump", b)
    assert_same(again, oracle)
    again.close()


def test_torn_log_tail_is_cut_with_a_warning(tmp_path):
    rng = np.random.default_rng(9)
    engine, oracle = both(tmp_path / "e")
    for i in range(3):
        write_both(engine, oracle, "pump", batch(rng, i * 10_000, 200))
    engine.write("pump", batch(rng, 50_000, 200))  # this one will be torn
    abandon(engine)
    (log,) = sorted((tmp_path / "e" / WAL_DIR).glob("*.wal"))
    log.write_bytes(log.read_bytes()[:-100])
    with pytest.warns(StorageWarning, match="torn"):
        again = reopen(tmp_path / "e")
    assert again._store.errors == []
    assert_same(again, oracle)
    again.close()


def test_damaged_manifest_refuses_to_open_clearly(tmp_path):
    engine = tsengine.Engine(tmp_path / "e", durability="none")
    engine.write("m", {"time": [1], "v": [1.0]})
    engine.close()
    manifest = tmp_path / "e" / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"wal_seq": ', '"wal_seq": 1'))
    with pytest.raises(CorruptionError, match="manifest.json"):
        reopen(tmp_path / "e")
    manifest.write_text("[]")  # valid JSON, not a manifest
    with pytest.raises(CorruptionError, match="manifest.json"):
        reopen(tmp_path / "e")


def test_a_missing_segment_is_reported_and_the_engine_still_works(tmp_path):
    engine = tsengine.Engine(tmp_path / "e", durability="sync")
    engine.write("t", {"time": np.arange(1000), "v": np.ones(1000)})
    engine.close()  # the checkpoint writes the points to a segment
    (segment,) = (tmp_path / "e" / SEGMENT_DIR).glob("*.seg")
    segment.unlink()
    with pytest.warns(StorageWarning, match=segment.name):
        engine = reopen(tmp_path / "e")
    assert engine.read("t").num_rows == 0  # lost with the file, and said so
    engine.write("t", {"time": [5000], "v": [2.0]})
    engine.close()  # a checkpoint retires the missing file without failing
    engine = reopen(tmp_path / "e")
    assert engine.read("t").column("v").to_pylist() == [2.0]
    engine.close()


# -- housekeeping ---------------------------------------------------------------------


def test_second_open_of_the_same_directory_is_refused(tmp_path):
    engine = tsengine.Engine(tmp_path / "e", durability="none")
    with pytest.raises(StorageError, match="already open"):
        tsengine.Engine(tmp_path / "e")
    engine.close()
    reopen(tmp_path / "e").close()


def test_uncommitted_segment_files_are_removed_at_open(tmp_path):
    engine = tsengine.Engine(tmp_path / "e", durability="none")
    engine.write("m", {"time": [1], "v": [1.0]})
    engine.close()
    stray = tmp_path / "e" / SEGMENT_DIR / "000000000099.seg"
    stray.write_bytes(b"half-written by a crashed checkpoint")
    with reopen(tmp_path / "e") as again:
        assert not stray.exists()
        assert again.read("m").num_rows == 1


def test_failed_checkpoint_loses_nothing(tmp_path, monkeypatch):
    rng = np.random.default_rng(10)
    engine, oracle = both(tmp_path / "e")
    write_both(engine, oracle, "pump", batch(rng, 0, 2000))
    import tsengine.storage.checkpoint as checkpoint

    def failing(path, chunks):
        raise OSError(28, "injected: no space left on device")

    monkeypatch.setattr(checkpoint, "write_segment", failing)
    with pytest.raises(OSError, match="injected"):
        engine.flush()
    monkeypatch.undo()
    write_both(engine, oracle, "pump", batch(rng, 50_000, 100))
    abandon(engine)
    with reopen(tmp_path / "e") as again:
        assert_same(again, oracle)


def test_sync_mode_fsyncs_every_write(tmp_path, monkeypatch):
    engine = tsengine.Engine(tmp_path / "e", durability="sync")
    engine.create_table("m", fields={"v": "float64"})
    calls = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append(fd), real(fd)))
    for i in range(5):
        before = len(calls)
        engine.write("m", {"time": [i], "v": [float(i)]})
        assert len(calls) == before + 1
        assert engine._store.durable_seq == engine._store.last_seq
    engine.close()


def test_stats_report_bytes_on_disk_per_table(tmp_path):
    rng = np.random.default_rng(11)
    engine, _ = both(tmp_path / "e")
    engine.write("pump", batch(rng, 0, 3000))
    logged = engine.stats()["storage"]["tables"]["pump"]
    assert logged["wal_bytes"] > 0 and logged["segment_bytes"] == 0
    engine.flush()
    stats = engine.stats()["storage"]
    pump = stats["tables"]["pump"]
    assert pump["wal_bytes"] == 0
    assert 0 < pump["segment_bytes"] <= stats["segment_bytes"]
    on_disk = sum(
        p.stat().st_size for p in (tmp_path / "e" / SEGMENT_DIR).glob("*.seg")
    )
    assert stats["segment_bytes"] == on_disk
    engine.close()


def test_compressed_chunks_are_written_without_encoding_again(tmp_path, monkeypatch):
    import tsengine.storage.blocks as blocks

    rng = np.random.default_rng(12)
    engine, oracle = both(tmp_path / "e")
    for i in range(6):
        write_both(engine, oracle, "pump", batch(rng, i * 10_000, 900))
    engine._compactor.drain()  # every sealed chunk compressed by the engine
    calls = []
    real = blocks.encode_column
    monkeypatch.setattr(
        blocks, "encode_column", lambda *a, **k: (calls.append(k), real(*a, **k))[1]
    )
    engine.flush()

    # Only the ring snapshots (one per series) were encoded, with the cheap codecs
    columns = 1 + len(FIELDS)
    assert len(calls) == len(engine._tables["pump"].series) * columns
    assert {k["codec"] for k in calls} <= {"raw", "bitmap", "dict"}
    abandon(engine)
    with reopen(tmp_path / "e") as again:
        assert_same(again, oracle)


def test_failed_background_checkpoint_warns_and_loses_nothing(tmp_path, monkeypatch):
    import tsengine.storage.checkpoint as checkpoint

    def failing(path, chunks):
        raise OSError(28, "injected: no space left on device")

    rng = np.random.default_rng(13)
    engine, oracle = both(tmp_path / "e", checkpoint_bytes=20_000)
    monkeypatch.setattr(checkpoint, "write_segment", failing)
    with pytest.warns(StorageWarning, match="background checkpoint .* injected"):
        for i in range(6):
            write_both(engine, oracle, "pump", batch(rng, i * 10_000, 300))
            engine._store.wait_idle()
    assert "injected" in engine.stats()["storage"]["checkpoint_error"]
    monkeypatch.undo()

    # The next checkpoint succeeds and clears the error; nothing was lost
    write_both(engine, oracle, "pump", batch(rng, 90_000, 300))
    engine._store.wait_idle()
    engine.flush()
    assert engine.stats()["storage"]["checkpoint_error"] is None
    abandon(engine)
    with reopen(tmp_path / "e") as again:
        assert_same(again, oracle)


def test_plain_chunks_are_written_compressed_once(tmp_path, monkeypatch):
    """A checkpoint that finds sealed chunks the compactor has not reached encodes
    them (once, the twin the compactor later swaps in): compressed blocks on disk,
    and the next checkpoint does not write them again."""
    rng = np.random.default_rng(13)
    engine, oracle = both(tmp_path / "e")
    held = []  # the compactor sees nothing until released below
    monkeypatch.setattr(engine._compactor, "submit", lambda *job: held.append(job))
    for i in range(6):
        write_both(engine, oracle, "pump", batch(rng, i * 10_000, 900))
    assert held and not any(job[2].encoded for job in held)
    engine.flush()
    (first,) = load_manifest(tmp_path / "e").segments
    with SegmentReader(tmp_path / "e" / SEGMENT_DIR / first.file) as reader:
        sealed = [e for e in reader.entries if not e.meta["hot"]]
        codecs = {
            tsengine.codecs.codec_name(reader.read_chunk(e).blocks["v"]) for e in sealed
        }
    assert len(sealed) == len(held) and "raw" not in codecs

    # The compactor swaps in the very twins the checkpoint wrote
    for job in held:
        engine._compactor._compact(*job)
    twins = [c for buf in engine._tables["pump"].series.values() for c in buf.sealed]
    assert all(c.encoded for c in twins)
    assert_next_checkpoint_adds_only_new_rows(engine, oracle, rng, tmp_path, first)


def test_a_file_where_the_log_directory_belongs_is_a_storage_error(tmp_path):
    engine = tsengine.Engine(tmp_path / "e", durability="sync")
    engine.write("t", {"time": [1], "v": [1.0]})
    engine.close()
    for log in (tmp_path / "e" / WAL_DIR).iterdir():
        log.unlink()
    (tmp_path / "e" / WAL_DIR).rmdir()
    (tmp_path / "e" / WAL_DIR).write_text("not a directory")
    with pytest.raises(StorageError, match=WAL_DIR):
        reopen(tmp_path / "e")
    (tmp_path / "e" / WAL_DIR).unlink()
    reopen(tmp_path / "e").close()  # the directory lock was released

"""The manifest: atomic replacement, checksum, version and field checks."""

from __future__ import annotations

import json
import os
import zlib

import pytest

from tsengine.errors import CorruptionError
from tsengine.storage import StorageFormatError
from tsengine.storage.manifest import (
    MANIFEST_NAME,
    Manifest,
    SegmentRecord,
    load_manifest,
    save_manifest,
    segment_name,
)


def sample() -> Manifest:
    return Manifest(
        tables={"pump": {"tags": ["site"], "fields": {"v": "float64"}}, "z\u00e9": {}},
        segments=[SegmentRecord(segment_name(1), 120, {"pump": 100})],
        wal_seq=41,
        next_segment=2,
        state={"note": 1},
    )


def test_missing_manifest_is_none(tmp_path):
    assert load_manifest(tmp_path) is None


def test_round_trip_and_no_leftovers(tmp_path, monkeypatch):
    synced = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd)))
    save_manifest(tmp_path, sample())
    assert len(synced) == 2  # the file, then its directory
    assert load_manifest(tmp_path) == sample()
    assert os.listdir(tmp_path) == [MANIFEST_NAME]
    # Readable by people and by plain JSON tools
    body = json.loads((tmp_path / MANIFEST_NAME).read_text())
    assert body["wal_seq"] == 41 and body["version"] == 1


def test_replacement_keeps_order_of_tables_and_fields(tmp_path):
    first = sample()
    save_manifest(tmp_path, first)
    second = sample()
    second.tables = {"b": {"fields": {"z": "int64", "a": "bool"}}, "a": {}}
    second.wal_seq = 99
    save_manifest(tmp_path, second)
    loaded = load_manifest(tmp_path)
    assert loaded.wal_seq == 99
    # Order is meaningful (creation order, column order) and must survive
    assert list(loaded.tables) == ["b", "a"]
    assert list(loaded.tables["b"]["fields"]) == ["z", "a"]


def test_every_flipped_byte_is_an_error(tmp_path):
    save_manifest(tmp_path, sample())
    path = tmp_path / MANIFEST_NAME
    good = path.read_bytes()
    for at in range(len(good)):
        data = bytearray(good)
        data[at] ^= 0x01
        path.write_bytes(bytes(data))
        try:
            loaded = load_manifest(tmp_path)
        except CorruptionError as err:
            assert str(path) in str(err)
            continue
        # A flip inside insignificant JSON whitespace changes nothing
        assert loaded == sample(), f"flip at byte {at} changed the manifest silently"


def test_newer_version_is_a_format_error(tmp_path):
    save_manifest(tmp_path, sample())
    path = tmp_path / MANIFEST_NAME
    body = json.loads(path.read_text())
    del body["crc32"]
    body["version"] = 7
    canonical = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    body["crc32"] = zlib.crc32(canonical)
    path.write_text(json.dumps(body))
    with pytest.raises(StorageFormatError, match="version 7"):
        load_manifest(tmp_path)


def test_malformed_field_is_corruption(tmp_path):
    body = {
        "format": "tsengine",
        "version": 1,
        "tables": [],
        "segments": [],
        "wal_seq": 0,
        "next_segment": 1,
        "state": {},
    }
    canonical = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    body["crc32"] = zlib.crc32(canonical)
    (tmp_path / MANIFEST_NAME).write_text(json.dumps(body))
    with pytest.raises(CorruptionError, match="field malformed"):
        load_manifest(tmp_path)

"""The engine directory layout and its manifest, replaced atomically.

An engine directory looks like::

    plant.tse/
      manifest.json         format version, table definitions, live segments, wal_seq
      LOCK                  held (flock) by the one process that has the engine open
      wal/                  write-ahead log files, see tsengine.storage.wal
      segments/             segment files, see tsengine.storage.segment

The manifest is the commit point of a checkpoint: segment files are written first,
then the manifest naming them, then log files up to ``wal_seq`` may be deleted. A
crash between steps leaves either the old manifest (new segments are unreferenced
leftovers, removed at the next open) or the new one (old log files are skipped by
sequence). The manifest carries a crc32 of its own content so that damage is told
apart from a valid file.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tsengine.storage._crc import crc32
from tsengine.storage._fsio import atomic_write
from tsengine.storage.diagnostics import StorageFormatError, corruption

FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
WAL_DIR = "wal"
SEGMENT_DIR = "segments"
LOCK_NAME = "LOCK"


def segment_name(number: int) -> str:
    """File name of segment number ``number`` inside ``segments/``."""
    return f"{number:012d}.seg"


@dataclass
class SegmentRecord:
    """A live segment file.

    Attributes
    ----------
    file : str
        Name inside ``segments/``.
    size : int
        File size in bytes.
    chunks : int
        Chunks the file holds.
    tables : dict of str to int
        Bytes of the file's blocks per table.
    dead : list of int
        Offsets of chunks that no longer hold live data (merged away, or a ring
        snapshot replaced by a later one); recovery skips them.
    """

    file: str
    size: int
    chunks: int = 0
    tables: dict[str, int] = field(default_factory=dict)
    dead: list[int] = field(default_factory=list)


@dataclass
class Manifest:
    """What a checkpoint made durable.

    Attributes
    ----------
    tables : dict of str to dict
        Table name -> definition (JSON-compatible), in creation order.
    segments : list of SegmentRecord
        The live segment files, oldest first.
    wal_seq : int
        Every log record with a sequence up to this one is reflected in ``tables``
        and ``segments``; replay starts after it.
    next_segment : int
        Number of the next segment file to write (numbers are never reused).
    state : dict
        Extra JSON-compatible state a checkpoint wants to keep.
    """

    tables: dict[str, dict] = field(default_factory=dict)
    segments: list[SegmentRecord] = field(default_factory=list)
    wal_seq: int = 0
    next_segment: int = 1
    state: dict = field(default_factory=dict)


def _body(manifest: Manifest) -> dict:
    body = asdict(manifest)
    body["format"] = "tsengine"
    body["version"] = FORMAT_VERSION
    return body


def _canonical(body: dict) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def save_manifest(directory: str | Path, manifest: Manifest) -> None:
    """Replace ``directory/manifest.json`` atomically and durably.

    The checksum covers the compact JSON (no spaces, keys in their order: the order
    of tables and of their fields is meaningful) of every other field; the file
    itself is indented so people can read it.
    """
    body = _body(manifest)
    body["crc32"] = crc32(_canonical(body))
    text = json.dumps(body, indent=1, ensure_ascii=False) + "\n"
    atomic_write(Path(directory) / MANIFEST_NAME, [text.encode()])


def load_manifest(directory: str | Path) -> Manifest | None:
    """Read ``directory/manifest.json``; None when there is none (a new engine).

    Raises
    ------
    CorruptionError
        If the file is not valid JSON, its crc32 does not match or a field has the
        wrong type; the message names the file.
    StorageFormatError
        If a newer tsengine wrote it.
    """
    path = Path(directory) / MANIFEST_NAME
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None

    # Checksum first: only then is a version number trustworthy
    try:
        body = json.loads(raw)
        crc = body.pop("crc32")
    except (ValueError, AttributeError, KeyError, TypeError) as exc:
        raise corruption(path, 0, f"manifest is not valid: {exc!r}") from exc
    if crc32(_canonical(body)) != crc:
        raise corruption(path, 0, "manifest crc32 mismatch")
    if body.get("format") != "tsengine" or body.get("version") != FORMAT_VERSION:
        raise StorageFormatError(
            f"{str(path)!r}: manifest format {body.get('format')!r} version "
            f"{body.get('version')!r} is not supported (this tsengine reads version "
            f"{FORMAT_VERSION})"
        )

    # Typed fields
    try:
        manifest = Manifest(
            tables={str(k): dict(v) for k, v in body["tables"].items()},
            segments=[SegmentRecord(**s) for s in body["segments"]],
            wal_seq=int(body["wal_seq"]),
            next_segment=int(body["next_segment"]),
            state=dict(body["state"]),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise corruption(path, 0, f"manifest field malformed: {exc!r}") from exc
    return manifest

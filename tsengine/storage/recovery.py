"""Opening a durable engine: feed live segment chunks, then replay the log.

Each step appends what it cannot restore to an error list (CorruptionError values
naming file and byte offset) and carries on, so a damaged directory still opens with
everything that is readable.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from tsengine.errors import CorruptionError, Error
from tsengine.storage import walformat as fmt
from tsengine.storage.blocks import chunk_to_arrow
from tsengine.storage.diagnostics import corruption
from tsengine.storage.manifest import SegmentRecord
from tsengine.storage.records import decode_definition, decode_write
from tsengine.storage.segment import SegmentReader
from tsengine.storage.wal import WriteAheadLog

#: Rows handed to the engine per call while recovering segments.
RECOVERY_BATCH_ROWS = 1 << 20


def remove_leftovers(segment_dir: Path, referenced: set[str]) -> None:
    """Delete segment files a crashed checkpoint wrote but never committed (and
    temporary files); files set aside as ``*.damaged`` stay."""
    for path in segment_dir.iterdir():
        if path.name not in referenced and not path.name.endswith(".damaged"):
            path.unlink()


def apply(action, errors: list, where: str | Path, offset: int) -> None:
    """Run one engine call; a tsengine error becomes a located report."""
    try:
        action()
    except Error as exc:
        errors.append(corruption(where, offset, f"could not restore: {exc}"))


def recover_segment(
    engine, path: Path, record: SegmentRecord, definitions: dict, errors: list
) -> dict[int, tuple[str, int]] | None:
    """Feed the live chunks of one segment to ``engine._recover_write``.

    Parameters
    ----------
    engine : Engine
        Being opened.
    path : Path
        The segment file.
    record : SegmentRecord
        Its manifest entry (``dead`` chunks are skipped).
    definitions : dict
        Table definitions by name (for the tag names of each series key).
    errors : list
        Damage found is appended here.

    Returns
    -------
    dict or None
        Chunk offset -> (table, bytes) of every chunk in the file, or None if the
        file could not be opened at all.
    """
    try:
        reader = SegmentReader(path)
    except (OSError, CorruptionError) as exc:
        errors.append(corruption(path, 0, f"segment unreadable: {exc}"))
        return None
    with reader:
        errors.extend(reader.errors)
        dead = set(record.dead)
        pending: dict[str, list[pa.Table]] = {}
        rows = 0
        for entry in reader.entries:
            if entry.offset in dead:
                continue

            # Decode; a damaged chunk is reported and skipped
            definition = definitions.get(entry.table)
            try:
                if definition is None:
                    raise CorruptionError(f"table {entry.table!r} is not defined")
                data = chunk_to_arrow(
                    reader.read_chunk(entry),
                    definition["tags"][: len(entry.series_key)],
                    source=str(path),
                    offsets={b[0]: b[1] for b in entry.blocks},
                )
            except CorruptionError as exc:
                if getattr(exc, "path", None) is None:
                    exc = corruption(path, entry.offset, str(exc))
                errors.append(exc)
                continue

            # Hand rows over in large batches: the engine's bulk path is fastest
            pending.setdefault(entry.table, []).append(data)
            rows += data.num_rows
            if rows >= RECOVERY_BATCH_ROWS:
                _feed(engine, pending, path, errors)
                pending, rows = {}, 0
        _feed(engine, pending, path, errors)
        return {e.offset: (e.table, e.end - e.offset) for e in reader.entries}


def _feed(engine, pending: dict[str, list[pa.Table]], path: Path, errors) -> None:
    for name, parts in pending.items():
        data = pa.concat_tables(parts, promote_options="default")
        apply(lambda n=name, d=data: engine._recover_write({n: d}), errors, path, 0)


def replay_log(
    engine, wal: WriteAheadLog, after_seq: int, definitions: dict, errors: list
) -> None:
    """Apply the log records after ``after_seq`` in order; table records also
    update ``definitions``."""
    try:
        for rec in wal.replay(after_seq=after_seq):
            try:
                if rec.kind == fmt.KIND_TABLE:
                    definition = decode_definition(rec.payload)
                    engine._recover_table(definition)
                    definitions[definition["name"]] = definition
                else:
                    engine._recover_write(decode_write(rec.payload))
            except (Error, KeyError) as exc:
                errors.append(
                    corruption(rec.path, rec.offset, f"record {rec.seq}: {exc}")
                )
    except CorruptionError as exc:
        errors.append(exc)

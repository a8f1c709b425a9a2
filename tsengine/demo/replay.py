"""Time-compressed replay of recorded sensor data: the packaged datasets and user files.

A :class:`Recording` is one table's rows in the order a plant would have sent them,
with the table definition the demo creates for it. :class:`Replay` hands out the rows
of several recordings in slices, paced so that each recording finishes after
``seconds`` of wall time: months of 5-minute readings arrive in a few seconds, in
their original order (a backwards step in a file stays a backwards step), with their
original timestamps, so what is stored can be checked against the file.

The packaged datasets:

- :func:`nab_machine_temperature`: table ``machine_temperature`` (field ``value``,
  tag ``machine``), ``duplicates="keep"`` because the file repeats one hour and every
  recorded reading is kept;
- :func:`cmapss_fleet`: table ``turbofan`` (tag ``unit``, fields ``setting1..3`` and
  ``sensor1..21``), rows reordered by cycle and then unit, as if the 100 engines ran
  side by side.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from tsengine import data
from tsengine.ingest.shape import tag_columns
from tsengine.ingest.sources import open_source
from tsengine.schema import field_type_of

NAB_TABLE = "machine_temperature"
NAB_MACHINE = "nab-machine-1"
CMAPSS_TABLE = "turbofan"


@dataclass
class Recording:
    """Rows of one table in replay order, and how to create that table.

    ``rows`` is an ingest-shaped Arrow table (``time`` first, then tags, then fields);
    ``source`` names where it came from, for the live view.
    """

    table: str
    rows: pa.Table
    tags: list[str]
    duplicates: str = "last"
    source: str = ""
    sent: int = 0

    @property
    def fields(self) -> dict[str, str]:
        """Field name to tsengine type, from the Arrow types of ``rows``."""
        out = {}
        for f in self.rows.schema:
            if f.name != "time" and f.name not in self.tags:
                out[f.name] = field_type_of(f.type)
        return out

    @property
    def points(self) -> int:
        """Field values (non-null) in the recording."""
        return sum(
            len(c) - c.null_count
            for name, c in zip(self.rows.column_names, self.rows.columns)
            if name != "time" and name not in self.tags
        )

    @property
    def done(self) -> bool:
        return self.sent >= self.rows.num_rows


def nab_machine_temperature() -> Recording:
    """The NAB machine temperature series, in file order."""
    path = data.path(data.NAB_MACHINE_TEMPERATURE)
    rows = _read_all(path, preset="nab")
    rows = rows.append_column(
        pa.field("machine", pa.string()),
        pa.repeat(pa.scalar(NAB_MACHINE, pa.string()), rows.num_rows),
    )
    rows = rows.select(["time", "machine", "value"])
    return Recording(NAB_TABLE, rows, ["machine"], duplicates="keep", source=path.name)


def cmapss_fleet() -> Recording:
    """The C-MAPSS FD001 training fleet, ordered by cycle, then unit."""
    path = data.path(data.CMAPSS_FD001)
    rows = _read_all(path, preset="cmapss")
    rows = rows.take(
        pc.sort_indices(rows, [("time", "ascending"), ("unit", "ascending")])
    )
    return Recording(CMAPSS_TABLE, rows, ["unit"], source=path.name)


def user_recordings(paths: Iterable[str | os.PathLike], options_for) -> list[Recording]:
    """User files as recordings, one per table they fill, in file order.

    ``options_for(path)`` returns the :func:`tsengine.ingest.sources.open_source`
    options of a file (format, preset, CSV options). Chunks of several files that
    land in the same table are concatenated.
    """
    by_table: dict[str, list[pa.Table]] = {}
    tags: dict[str, list[str]] = {}
    sources: dict[str, list[str]] = {}
    for p in paths:
        with open_source(p, **options_for(p)) as source:
            for name, chunk in source:
                by_table.setdefault(name, []).append(chunk)
                tags.setdefault(name, tag_columns(chunk))
                sources.setdefault(name, []).append(os.path.basename(os.fspath(p)))
    recordings = []
    for name, chunks in by_table.items():
        rows = pa.concat_tables(chunks, promote_options="default")
        names = sorted(set(sources[name]))
        label = names[0] if len(names) == 1 else f"{len(names)} files"
        recordings.append(Recording(name, rows, tags[name], source=label))
    return recordings


def _read_all(path, **options) -> pa.Table:
    with open_source(path, **options) as source:
        return pa.concat_tables([chunk for _, chunk in source])


@dataclass
class Replay:
    """Paces recordings so each one is fully sent after ``seconds`` of wall time.

    Call :meth:`due` with the seconds elapsed since the start; it returns the slices
    that are due by then, at most one per recording.
    """

    recordings: list[Recording]
    seconds: float
    history: list[int] = field(default_factory=list)

    def due(self, elapsed: float) -> dict[str, pa.Table]:
        """``{table: rows}`` of every recording's rows due at ``elapsed`` seconds."""
        share = 1.0 if self.seconds <= 0 else min(elapsed / self.seconds, 1.0)
        out: dict[str, pa.Table] = {}
        for rec in self.recordings:
            target = int(rec.rows.num_rows * share)
            if target > rec.sent:
                chunk = rec.rows.slice(rec.sent, target - rec.sent)
                out[rec.table] = (
                    pa.concat_tables([out[rec.table], chunk])
                    if rec.table in out
                    else chunk
                )
                rec.sent = target
        return out

    @property
    def done(self) -> bool:
        return all(rec.done for rec in self.recordings)

    def progress(self) -> list[tuple[str, str, int, int]]:
        """``(table, source, rows sent, rows)`` of each recording."""
        return [
            (rec.table, rec.source, rec.sent, rec.rows.num_rows)
            for rec in self.recordings
        ]


__all__ = [
    "CMAPSS_TABLE",
    "NAB_TABLE",
    "Recording",
    "Replay",
    "cmapss_fleet",
    "nab_machine_temperature",
    "user_recordings",
]

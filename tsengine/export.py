"""Export tables (or a time range of them) to Parquet files.

Files are plain Parquet that pyarrow, polars and DuckDB read back identically:
``time`` as ``timestamp[ns, UTC]``, tags as dictionary-encoded strings, fields with
their Arrow types and nulls; one row group per batch read, zstd-compressed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow.parquet as pq

if TYPE_CHECKING:
    from tsengine.engine import Engine


def export_parquet(
    engine: Engine,
    table: str,
    path: str | os.PathLike,
    *,
    start: Any = None,
    end: Any = None,
    where: dict[str, Any] | None = None,
    fields: list[str] | None = None,
    row_group_rows: int = 1 << 20,
    compression: str = "zstd",
) -> int:
    """Write ``table`` (restricted like :meth:`Engine.read`) to a Parquet file.

    Parameters
    ----------
    path : str or PathLike
        File to write; a directory gets ``<table>.parquet`` inside it. Written to a
        temporary name first, then renamed, so a reader never sees half a file.
    row_group_rows : int
        Rows per Parquet row group.

    Returns
    -------
    int
        Rows written.
    """
    data = engine.read(table, start=start, end=end, where=where, fields=fields)
    target = Path(path)
    if target.is_dir():
        target = target / f"{table}.parquet"
    tmp = target.with_name(f".{target.name}.tmp")
    pq.write_table(data, tmp, row_group_size=row_group_rows, compression=compression)
    os.replace(tmp, target)
    return data.num_rows

"""What ``Engine.stats()`` reports per table: points, bytes, and codecs per column."""

from __future__ import annotations

from collections import Counter
from typing import Any

from tsengine.core.table import Table


def table_stats(table: Table) -> dict[str, Any]:
    """Counts and sizes of one table, hot and sealed tiers apart.

    ``raw_bytes`` is what the sealed points take uncompressed (8 bytes per time and
    numeric value, 1 per bool, validity bytes where present); ``sealed_bytes`` what
    they take as stored; ``compression_ratio`` their quotient; ``unencoded_bytes``
    the part of ``sealed_bytes`` still plain, waiting for the compactor. ``columns``
    gives, per column (``time`` first), raw and stored bytes of the sealed tier and
    how many chunks each codec was chosen for.
    """
    names = ["time", *table.definition.fields]
    hot = sealed = ring_bytes = sealed_bytes = raw = unencoded = 0
    col_raw = Counter()
    col_stored = Counter()
    col_codecs: dict[str, Counter] = {name: Counter() for name in names}
    for buf in list(table.series.values()):
        hot += buf.count
        ring_bytes += buf.nbytes
        for chunk in buf.sealed:
            sealed += chunk.n
            sealed_bytes += chunk.nbytes
            raw += chunk.raw_nbytes
            if not chunk.encoded:
                unencoded += chunk.nbytes
            stored = chunk.column_nbytes()
            for i, codec in enumerate(chunk.column_codecs()):
                name = names[i]
                col_codecs[name][codec] += 1
                col_stored[name] += stored[i]
                size = 1 if i and chunk.kinds[i - 1] == "bool" else 8
                col_raw[name] += chunk.n * size
    return {
        "series": len(table.series),
        "points": hot + sealed,
        "hot_points": hot,
        "sealed_points": sealed,
        "memory_bytes": ring_bytes + sealed_bytes,
        "hot_bytes": ring_bytes,
        "sealed_bytes": sealed_bytes,
        "raw_bytes": raw,
        "unencoded_bytes": unencoded,
        "compression_ratio": raw / sealed_bytes if sealed_bytes else None,
        "columns": {
            name: {
                "raw_bytes": col_raw[name],
                "stored_bytes": col_stored[name],
                "codecs": dict(col_codecs[name]),
            }
            for name in names
        },
    }

"""Closed rollup windows computed again from the source's stored rows.

A rollup adds each point as it is written. Under the duplicate policies "last" and
"first" a point written again for a (series, time) replaces the stored one, or is
dropped, so a window that took such a point accumulated both. The engine marks those
rows (``Table.rewritten``), the window state notes their windows, and when such a
window closes its row is computed here from what the source holds, as a query
would. Rewrites are rare, so one read and aggregate per window is cheap enough.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from tsengine.rollup.spec import RollupSpec


def recompute(
    engine, spec: RollupSpec, closed: pa.Table, dirty: np.ndarray
) -> pa.Table:
    """``closed`` (a rollup's closed windows) with its ``dirty`` rows recomputed.

    Parameters
    ----------
    engine : tsengine.Engine
        The engine holding ``spec.source``.
    spec : RollupSpec
        The rollup.
    closed : pyarrow.Table
        Closed windows: ``time`` (window start), the ``by`` tags, the aggregates.
    dirty : numpy.ndarray of bool
        Rows of ``closed`` to compute again.

    Returns
    -------
    pyarrow.Table
        ``closed`` with the same schema; a window whose points are all gone has
        count 0 and null aggregates.
    """
    from tsengine.window import aggregate_table

    tags = list(engine.definition(spec.source).tags)
    columns = {n: closed.column(n).to_pylist() for n in closed.column_names}
    starts = closed.column("time").cast(pa.int64()).to_numpy()
    for i in np.flatnonzero(dirty).tolist():
        start = int(starts[i])
        end = start + spec.every_ns
        where = {tag: columns[tag][i] for tag in spec.by}
        data = engine.read(spec.source, start=start, end=end, where=where or None)
        for tag in tags:  # the query kernels group on plain strings
            j = data.schema.get_field_index(tag)
            data = data.set_column(j, tag, data.column(tag).cast(pa.string()))
        fresh = aggregate_table(
            data, every=spec.every_ns, aggs=spec.aggs, by=spec.by, start=start,
            end=end, fill="none", offset=spec.offset, tag_columns=tags,
        )  # fmt: skip
        for name in columns:
            if name == "time" or name in spec.by:
                continue
            if fresh.num_rows and name in fresh.column_names:
                columns[name][i] = fresh.column(name)[0].as_py()
            else:  # every point of the window gone: nothing to aggregate
                columns[name][i] = 0 if name.endswith("_count") else None
    schema = closed.schema
    return pa.table(
        {n: pa.array(values, schema.field(n).type) for n, values in columns.items()}
    )

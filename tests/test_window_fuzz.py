"""Malformed and hostile inputs: every call returns a table or raises a tsengine Error.

Times anywhere in the int64 range, out of order even when ``tag_columns`` promises
order (wrong windows are allowed then, a crash or a foreign exception is not), odd
window specs and every fill. The process must survive all of it.
``WINDOW_EXAMPLES`` raises the number of examples (default 300).
"""

from __future__ import annotations

import math
import os

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tsengine.errors import Error
from tsengine.window import aggregate_table

AGGS = {
    "v": [
        "count",
        "sum",
        "mean",
        "min",
        "max",
        "first",
        "last",
        "spread",
        "std",
        "p50",
        "twa",
        "integral",
        "rate",
    ],
    "s": ["count", "last"],
}
times = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.integers(-1000, 1000),
    st.sampled_from([-(2**63), 2**63 - 1, 0, -1]),
)


@settings(
    max_examples=int(os.environ.get("WINDOW_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    st.lists(
        st.tuples(
            times,
            st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
            st.sampled_from(["a", "b", None]),
        ),
        max_size=30,
    ),
    st.one_of(
        st.integers(-5, 10**18), st.sampled_from(["1ns", "1d", "1w", "1mo", "x"])
    ),
    st.one_of(st.none(), st.integers(-5, 10**18)),
    st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)),
    st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)),
    st.sampled_from([None, "none", "previous", "linear", 1.5]),
    st.sampled_from([None, ["k"], []]),
    st.sampled_from([None, "UTC", "Europe/Berlin", "America/Santiago"]),
    st.sampled_from(["left", "right"]),
)
def test_never_crashes(rows, every, period, start, end, fill, tags, tz, closed):
    table = pa.table(
        {
            "time": pa.array([r[0] for r in rows], pa.timestamp("ns", "UTC")),
            "v": pa.array([r[1] for r in rows], pa.float64()),
            "s": pa.array([r[2] for r in rows], pa.string()),
            "k": pa.array([r[2] for r in rows], pa.string()),
        }
    )
    try:
        out = aggregate_table(
            table,
            every=every,
            period=period,
            start=start,
            end=end,
            fill=fill,
            by=["k"] if tags else None,
            tag_columns=tags,
            tz=tz,
            closed=closed,
            aggs=AGGS,
        )
    except Error:
        return
    assert out.num_rows >= 0
    counts = out.column("v_count").to_pylist()
    assert all(c >= 0 for c in counts)
    if tags is None and (period is None or period == every):
        # Checked order and disjoint windows: no row is counted twice
        assert sum(counts) <= sum(
            1 for r in rows if r[1] is not None and not math.isnan(r[1])
        )

"""Continuous rollups: windowed aggregates maintained on ingest.

``engine.create_rollup(name, source, every, aggs, by=, lateness=)`` creates a table
``name`` (tags ``by``, fields ``f"{field}_{agg}"`` named and typed as
``Engine.aggregate`` names them) and keeps it up to date as the source is written:

Windows and the watermark
    Tumbling windows ``[origin + k * every, origin + (k + 1) * every)`` on the same grid
    as queries (epoch plus ``offset``; fixed lengths only). The *watermark* is the
    greatest source time seen minus ``lateness``; a window closes when the watermark
    reaches its end, and its row is then written to the rollup table -- readable with
    ``read``/``latest``/``aggregate`` like any table, with its own ``retention``.
    A write is judged as a whole against the watermark from before it.
Late points
    Points whose window is still open (within ``lateness``) update it. Points whose
    window has closed are counted (``stats()["rollups"][name]["late_dropped"]``) and
    dropped, or with ``late="side"`` written to the table ``f"{name}_late"``.
Exactness
    For in-order data a closed window equals ``Engine.aggregate`` over the same raw
    data, bit for bit, for count, sum, mean, min, max, first, last and spread: the
    state replays the query kernel's compensated arithmetic (see
    :mod:`tsengine.rollup._kernels`). var/std/var_pop/std_pop use Welford's update on
    deviations from the window's first value, stable with large offsets; they agree
    with the query's two-pass result to about 1e-14 relative, not bit for bit.
    Percentiles (``median``, ``p<N>``, ``q<F>``) come from a DDSketch with relative
    accuracy ``alpha`` (default 1%; bound in :mod:`tsengine.rollup.sketch`).
    ``twa``/``integral``/``rate`` are not maintained. Exactness also assumes one point
    per (series, time): with the ``"last"`` duplicate policy the source keeps one point
    where the rollup has counted both.
Subscriptions
    ``engine.subscribe(name)`` iterates over the windows each write closes, as one
    RecordBatch per write; see :mod:`tsengine.rollup.subscribe` for slow readers.
Durability
    Definitions are stored in ``rollups.json`` in the engine directory; open windows
    are rebuilt from the source at reopen (:mod:`tsengine.rollup.live`).
"""

from tsengine.rollup.live import RollupWarning
from tsengine.rollup.manager import Rollups
from tsengine.rollup.sketch import DDSketch
from tsengine.rollup.spec import RollupSpec
from tsengine.rollup.subscribe import Subscription

__all__ = ["DDSketch", "RollupSpec", "RollupWarning", "Rollups", "Subscription"]

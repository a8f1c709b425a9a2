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
    data for count, sum, mean, min, max, first, last and spread: same float values
    (only the sign of an all-zero min/max may differ), because the state replays the
    query kernels' compensated lanes and fallbacks (:mod:`tsengine.rollup._kernels`;
    :mod:`tsengine.rollup._finish` must follow any change to
    ``tsengine.window._kernels.reduce`` and to how ``fieldcalc`` picks sum and mean).
    A write whose rows are out of time order is sorted per group first. var/std/
    var_pop/std_pop use Welford's update on deviations from the window's first
    value, stable with large offsets; they agree with the query's two-pass result to
    about 1e-14 relative, not bit for bit. Percentiles (``median``, ``p<N>``,
    ``q<F>``) come from a DDSketch with relative accuracy ``alpha`` (default 1%;
    bound in :mod:`tsengine.rollup.sketch`). ``twa``/``integral``/``rate`` are not
    maintained. Exactness also assumes one point per (series, time): with the
    ``"last"`` duplicate policy the source keeps one point where the rollup has
    counted both. Late points within the lateness are added in arrival order, so
    their window's sums may differ from the query's in the last bit.
Cost
    Per point: one routing pass (group, window, lateness) and one accumulating pass
    per field, in Numba, a few ns each; per write that closes windows: building
    their rows and one ``Engine.write`` to the rollup table (rows written series by
    series). ``benchmarks/bench_rollup.py`` measures it against plain ingest.
Subscriptions
    ``engine.subscribe(name)`` iterates over the windows each write closes, as one
    RecordBatch per write, rows by window then group; see
    :mod:`tsengine.rollup.subscribe` for slow readers.
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

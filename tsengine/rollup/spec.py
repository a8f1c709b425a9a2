"""A rollup's definition: what it aggregates, how windows close, where rows go.

The definition is validated against the source table once, at ``create_rollup``, and
stored as JSON (see :mod:`tsengine.rollup.catalog`) so a durable engine rebuilds the
rollup when it reopens.

Supported aggregates (output ``f"{field}_{name}"``, types as in queries):
count, sum, mean, min, max, first, last, spread, var, std, var_pop, std_pop, and
percentiles ``median``, ``p<N>``, ``q<F>`` from a sketch (relative accuracy ``alpha``).
Time-weighted ``twa``, ``integral`` and ``rate`` need a window's points in time order
at close, which a rollup does not keep; they are refused (use ``Engine.aggregate``).
Fields must be float64, int64, uint64 or bool.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tsengine.errors import SchemaError
from tsengine.rollup.sketch import DEFAULT_ALPHA, mapping
from tsengine.schema import TableDef, parse_retention
from tsengine.window import parse_agg, parse_duration
from tsengine.window.windows import make_spec

LATE_POLICIES = ("drop", "side")
#: Suffix of the side table that receives points too late for their window.
SIDE_SUFFIX = "_late"
#: Hot points per series of a rollup table: one per window, so far fewer than raw
#: data needs (17 minutes of 1-second windows, 17 hours of 1-minute ones); smaller
#: rings make a rollup's first closed windows cheap to store.
RING_CAPACITY = 1024
#: Aggregates a rollup can maintain on ingest.
SUPPORTED = frozenset(
    {
        "count",
        "sum",
        "mean",
        "min",
        "max",
        "first",
        "last",
        "spread",
        "var",
        "std",
        "var_pop",
        "std_pop",
        "quantile",
    }
)
_NUMERIC = ("float64", "int64", "uint64", "bool")
# Aggregates that keep the field's own type (and sum's integer type)
_KEEP_TYPE = frozenset({"min", "max", "first", "last"})
# Longest step: window ends must stay far inside the int64 ns range
_MAX_EVERY = 2**60


@dataclass(frozen=True)
class RollupSpec:
    """A validated rollup definition.

    Attributes
    ----------
    name, source : str
        Rollup table and source table.
    every : str or int
        Window step as given; ``every_ns`` and ``origin_ns`` are its fixed grid
        (windows ``[origin + k * every, origin + (k + 1) * every)``).
    lateness_ns : int
        Watermark lag: the watermark is the greatest source time seen minus this.
    aggs : dict of str to list of str
        Field to aggregate names, in output order.
    by : list of str
        Group-by tags of the source (the rollup table's tags).
    retention : int or None
        Retention of the rollup table, ns.
    late : {"drop", "side"}
        What happens to points whose window has closed.
    offset : str, int or None
        Grid shift as given.
    alpha : float
        Relative accuracy of percentile sketches.
    """

    name: str
    source: str
    every: str | int
    every_ns: int
    origin_ns: int
    lateness_ns: int
    aggs: dict[str, list[str]]
    by: list[str] = field(default_factory=list)
    retention: int | None = None
    late: str = "drop"
    offset: str | int | None = None
    alpha: float = DEFAULT_ALPHA
    lateness: str | int = "0s"

    @property
    def side_table(self) -> str:
        """Name of the table that receives late points with ``late="side"``."""
        return self.name + SIDE_SUFFIX

    def to_dict(self) -> dict:
        """JSON form: the arguments as given (durations re-parse the same)."""
        return {
            "name": self.name,
            "source": self.source,
            "every": self.every,
            "aggs": {f: list(a) for f, a in self.aggs.items()},
            "by": list(self.by),
            "lateness": self.lateness,
            "retention": self.retention,
            "late": self.late,
            "offset": self.offset,
            "alpha": self.alpha,
        }

    def output_fields(self, source: TableDef) -> dict[str, str]:
        """Field name to type of the rollup table, in request order."""
        out = {}
        for name, aggs in self.aggs.items():
            kind = source.fields[name]
            for agg in aggs:
                out[f"{name}_{agg}"] = _output_type(kind, agg)
        return out

    def table_def(self, source: TableDef) -> TableDef:
        """Definition of the rollup table."""
        return TableDef(
            name=self.name,
            tags=list(self.by),
            fields=self.output_fields(source),
            ring_capacity=RING_CAPACITY,
            retention=self.retention,
        )


def _output_type(kind: str, agg: str) -> str:
    """Type of ``agg`` over a field of ``kind``, as the query kernels return it."""
    if agg == "count":
        return "int64"
    if agg == "sum":
        return {"float64": "float64", "uint64": "uint64"}.get(kind, "int64")
    if agg in _KEEP_TYPE:
        return kind
    return "float64"


def make_rollup_spec(
    source: TableDef,
    name: str,
    every,
    aggs: dict[str, list[str]],
    *,
    by: list[str] | None = None,
    lateness="0s",
    retention=None,
    late: str = "drop",
    offset=None,
    alpha: float = DEFAULT_ALPHA,
) -> RollupSpec:
    """Validate a rollup's arguments against its source table.

    Raises
    ------
    SchemaError
        Unknown or non-numeric fields, tags not in the source, unsupported aggregates,
        bad ``late`` or ``retention``.
    ParseError
        Malformed ``every``/``lateness``/``offset``, or calendar windows.
    ValueError
        ``alpha`` outside ``[1e-4, 0.5]``.
    """
    # Windows: a fixed grid only (calendar steps move with the zone's clock)
    spec = make_spec(every, None, offset, None, None, "left", "left")
    if spec.kind != "fixed":
        raise SchemaError(
            f"every={every!r}: rollups need a fixed window length (ns up to weeks); "
            "calendar months and years are not supported"
        )
    if spec.every > _MAX_EVERY:
        raise SchemaError(f"every={every!r} is longer than {_MAX_EVERY!r} ns")
    lateness_ns = parse_duration(lateness, name="lateness").fixed_ns()
    if lateness_ns > _MAX_EVERY:
        raise SchemaError(f"lateness={lateness!r} is longer than {_MAX_EVERY!r} ns")

    # Names, tags and policies
    if not isinstance(name, str) or name == source.name:
        raise SchemaError(
            f"rollup name {name!r} must be a table name other than the source "
            f"{source.name!r}"
        )
    by = [] if by is None else [by] if isinstance(by, str) else list(by)
    missing = [t for t in by if t not in source.tags]
    if missing or len(set(by)) != len(by):
        raise SchemaError(
            f"by={by!r} must name distinct tags of table {source.name!r} "
            f"(tags: {source.tags!r})"
        )
    if late not in LATE_POLICIES:
        raise SchemaError(f"late={late!r} must be one of {list(LATE_POLICIES)}")
    mapping(alpha)

    # Fields and their aggregates
    if not isinstance(aggs, dict) or not aggs:
        raise SchemaError(f"aggs={aggs!r} must map field names to aggregate lists")
    clean: dict[str, list[str]] = {}
    for fname, names in aggs.items():
        names = [names] if isinstance(names, str) else names
        if fname not in source.fields:
            raise SchemaError(
                f"field {fname!r} is not a field of table {source.name!r} "
                f"(fields: {list(source.fields)!r})"
            )
        if source.fields[fname] not in _NUMERIC:
            raise SchemaError(
                f"field {fname!r} has type {source.fields[fname]!r}; rollups "
                f"aggregate {list(_NUMERIC)}"
            )
        if not isinstance(names, list | tuple) or not names:
            raise SchemaError(f"aggs[{fname!r}]={names!r} must be a non-empty list")
        for agg in names:
            if parse_agg(agg).kind not in SUPPORTED:
                raise SchemaError(
                    f"aggregate {agg!r} is not maintained by rollups (needs the "
                    "window's points in time order at close); use "
                    "Engine.aggregate for it"
                )
        if len(set(names)) != len(names):
            raise SchemaError(f"aggs[{fname!r}]={names!r} repeats an aggregate")
        clean[fname] = list(names)

    return RollupSpec(
        name=name,
        source=source.name,
        every=every,
        every_ns=spec.every,
        origin_ns=spec.origin,
        lateness_ns=lateness_ns,
        aggs=clean,
        by=by,
        retention=parse_retention(retention),
        late=late,
        offset=offset,
        alpha=float(alpha),
        lateness=lateness,
    )


def spec_from_dict(source: TableDef, data: dict) -> RollupSpec:
    """Inverse of :meth:`RollupSpec.to_dict`, validated again."""
    return make_rollup_spec(
        source,
        data["name"],
        data["every"],
        data["aggs"],
        by=data.get("by"),
        lateness=data.get("lateness", "0s"),
        retention=data.get("retention"),
        late=data.get("late", "drop"),
        offset=data.get("offset"),
        alpha=data.get("alpha", DEFAULT_ALPHA),
    )

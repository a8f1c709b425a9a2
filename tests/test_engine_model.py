"""The engine against a plain-Python model: random interleavings of writes (out of
order, duplicates under every policy, tiny rings that wrap and seal many times),
single-point appends, reads and latest. Results must be identical."""

from __future__ import annotations

import math

import hypothesis.strategies as st
import numpy as np
import pyarrow as pa
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

import tsengine

ASSETS = ["P-1", "P-2", "P-3"]
times = st.integers(min_value=-20, max_value=40)
values = st.one_of(st.none(), st.just(math.nan), st.floats(-1e6, 1e6, width=32))
counts = st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1))
rows = st.tuples(st.sampled_from(ASSETS), times, values, counts)


class Model:
    """Per series: a list of [time, vibration, count] in stored order."""

    def __init__(self, policy: str) -> None:
        self.policy = policy
        self.series: dict[str, list[list]] = {}

    def write(self, batch: list[tuple]) -> bool:
        """Apply a batch; return False (and change nothing) if it is rejected."""
        if self.policy == "reject":
            seen = set()
            for asset, t, _, _ in batch:
                existing = {p[0] for p in self.series.get(asset, [])}
                if (asset, t) in seen or t in existing:
                    return False
                seen.add((asset, t))
        for asset, t, v, c in batch:
            points = self.series.setdefault(asset, [])
            same = [p for p in points if p[0] == t]
            if same and self.policy in ("last", "first"):
                p = same[0]
                for i, new in ((1, v), (2, c)):
                    if new is None:
                        continue
                    if self.policy == "last" or p[i] is None:
                        p[i] = new
            else:
                points.append([t, v, c])
            points.sort(key=lambda p: p[0])  # stable: ties keep arrival order
        return True

    def read(self, start, end) -> list[tuple]:
        out = []
        for asset in sorted(self.series):
            for t, v, c in self.series[asset]:
                if (start is None or t >= start) and (end is None or t < end):
                    out.append((asset, t, v, c))
        return out

    def latest(self, n: int) -> list[tuple]:
        out = []
        for asset in sorted(self.series):
            for t, v, c in self.series[asset][-n:]:
                out.append((asset, t, v, c))
        return out


def as_rows(table: pa.Table) -> list[tuple]:
    assets = table.column("asset").to_pylist()
    t = table.column("time").cast(pa.int64()).to_pylist()
    v = table.column("vibration").to_pylist()
    c = table.column("count").to_pylist()
    return list(zip(assets, t, v, c))


def same(a: list[tuple], b: list[tuple]) -> bool:
    def norm(rows):
        return [
            tuple("nan" if isinstance(x, float) and math.isnan(x) else x for x in r)
            for r in rows
        ]

    return norm(a) == norm(b)


class EngineMachine(RuleBasedStateMachine):
    @initialize(
        policy=st.sampled_from(["last", "first", "keep", "reject"]),
        capacity=st.sampled_from([1, 2, 3, 5, 8, 64]),
    )
    def setup(self, policy, capacity):
        self.engine = tsengine.Engine()
        self.engine.create_table(
            "pump",
            tags=["asset"],
            fields={"vibration": "float64", "count": "int64"},
            ring_capacity=capacity,
            duplicates=policy,
        )
        self.model = Model(policy)

    @rule(batch=st.lists(rows, max_size=12))
    def write(self, batch):
        data = {
            "time": np.array([r[1] for r in batch], dtype=np.int64),
            "asset": pa.array([r[0] for r in batch], pa.string()),
            "vibration": pa.array([r[2] for r in batch], pa.float64()),
            "count": pa.array([r[3] for r in batch], pa.int64()),
        }
        accepted = self.model.write(batch) if batch else True
        try:
            self.engine.write("pump", data)
        except tsengine.DuplicateError:
            assert not accepted, "engine rejected a batch the model accepts"
            return
        assert accepted, "engine accepted a batch the model rejects"

    @rule(row=rows)
    def append(self, row):
        asset, t, v, c = row
        accepted = self.model.write([row])
        try:
            self.engine.series("pump", asset=asset).append(t, vibration=v, count=c)
        except tsengine.DuplicateError:
            assert not accepted
            return
        assert accepted

    @rule(start=st.one_of(st.none(), times), end=st.one_of(st.none(), times))
    def read(self, start, end):
        got = as_rows(self.engine.read("pump", start=start, end=end))
        assert same(got, self.model.read(start, end))

    @rule(n=st.integers(1, 5))
    def latest(self, n):
        assert same(as_rows(self.engine.latest("pump", n=n)), self.model.latest(n))

    @invariant()
    def counts_match(self):
        if not hasattr(self, "engine"):
            return
        stats = self.engine.stats()["tables"]["pump"]
        assert stats["points"] == sum(len(p) for p in self.model.series.values())


TestEngineModel = EngineMachine.TestCase
TestEngineModel.settings = settings(
    max_examples=150,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

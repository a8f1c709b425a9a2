"""The native long-format scatter with many series (the bucketed path, >= 512 series
per batch) against a plain-Python reference: rings that fill and seal mid-batch,
out-of-order and duplicate rows mixed in, nulls, NaN, one to four fields of every
numeric kind, every duplicate policy, dictionary tags with unused entries, plain
string tags and two tags. Also: readers never see part of such a batch."""

from __future__ import annotations

import math
import time

import numpy as np
import pyarrow as pa
import pytest
from batch_readers import WholeBatchReaders

import tsengine

SERIES = 700  # above the bucketing threshold (512), six buckets of 128
FIELDS = {
    "v": "float64",
    "n": "int64",
    "u": "uint64",
    "ok": "bool",
}


def reference(batches: list[list[tuple]], policy: str) -> dict:
    """Per series key: list of (time, *values) in stored order, as the engine's
    semantics say -- ties keep arrival order; "last"/"first" merge field by field,
    skipping nulls; "reject" refuses a whole batch holding any duplicate."""
    series: dict = {}
    for batch in batches:
        if policy == "reject":
            seen = set()
            clash = False
            for key, t, *_ in batch:
                existing = {p[0] for p in series.get(key, [])}
                if (key, t) in seen or t in existing:
                    clash = True
                    break
                seen.add((key, t))
            if clash:
                continue
        for key, t, *vals in batch:
            points = series.setdefault(key, [])
            same = [p for p in points if p[0] == t]
            if same and policy in ("last", "first"):
                p = same[0]
                for i, new in enumerate(vals, start=1):
                    if new is None:
                        continue
                    if policy == "last" or p[i] is None:
                        p[i] = new
            else:
                points.append([t, *vals])
            points.sort(key=lambda p: p[0])
    return series


def make_batches(
    seed: int, nbatches: int, rows: int, fields: list[str], disorder: float
) -> list[list[tuple]]:
    """Rows (key, time, *values) in random series order. Times per series mostly
    rise from batch to batch; a ``disorder`` share of rows go back in time or
    repeat a time."""
    rng = np.random.default_rng(seed)
    out = []
    for b in range(nbatches):
        batch = []
        keys = rng.integers(0, SERIES, rows)
        base = b * 1_000
        for i, k in enumerate(keys.tolist()):
            t = base + i
            r = rng.random()
            if r < disorder / 2:
                t = int(rng.integers(-50, base + i + 1))  # older, maybe sealed
            elif r < disorder:
                t = base + int(rng.integers(0, max(i, 1)))  # likely a duplicate
            vals = []
            for name in fields:
                if rng.random() < 0.1:
                    vals.append(None)
                    continue
                kind = FIELDS[name]
                if kind == "float64":
                    vals.append(
                        math.nan if rng.random() < 0.05 else float(rng.random())
                    )
                elif kind == "int64":
                    vals.append(int(rng.integers(-(2**62), 2**62)))
                elif kind == "uint64":
                    vals.append(int(rng.integers(0, 2**63)) * 2 + 1)
                else:
                    vals.append(bool(rng.random() < 0.5))
            batch.append((f"S{k:04d}", t, *vals))
        out.append(batch)
    return out


def to_table(batch: list[tuple], fields: list[str], tag: str) -> pa.Table:
    keys = [r[0] for r in batch]
    if tag == "dictionary":
        # Unused entries in the dictionary: the groups must be renumbered densely.
        names = [f"S{k:04d}" for k in range(SERIES + 5)]
        index = {name: i for i, name in enumerate(names)}
        asset = pa.DictionaryArray.from_arrays(
            pa.array([index[k] for k in keys], pa.int32()), pa.array(names)
        )
    else:
        asset = pa.array(keys, pa.string())
    columns = {"time": pa.array([r[1] for r in batch], pa.int64()), "asset": asset}
    for j, name in enumerate(fields):
        columns[name] = pa.array([r[2 + j] for r in batch], type=_arrow(FIELDS[name]))
    return pa.table(columns)


def _arrow(kind: str) -> pa.DataType:
    return {
        "float64": pa.float64(),
        "int64": pa.int64(),
        "uint64": pa.uint64(),
        "bool": pa.bool_(),
    }[kind]


def engine_rows(engine: tsengine.Engine, fields: list[str]) -> dict:
    table = engine.read("t")
    keys = table.column("asset").to_pylist()
    t = table.column("time").cast(pa.int64()).to_pylist()
    cols = [table.column(name).to_pylist() for name in fields]
    out: dict = {}
    for i, key in enumerate(keys):
        out.setdefault(key, []).append([t[i], *(c[i] for c in cols)])
    return out


def norm(series: dict) -> dict:
    return {
        k: [
            tuple("nan" if isinstance(x, float) and math.isnan(x) else x for x in p)
            for p in points
        ]
        for k, points in series.items()
    }


def run_case(policy, fields, capacity, disorder, tag, seed, nbatches=4, rows=3000):
    engine = tsengine.Engine()
    engine.create_table(
        "t",
        tags=["asset"],
        fields={name: FIELDS[name] for name in fields},
        ring_capacity=capacity,
        duplicates=policy,
    )
    batches = make_batches(seed, nbatches, rows, fields, disorder)
    stored = []
    for batch in batches:
        data = to_table(batch, fields, tag)
        try:
            engine.write("t", data)
        except tsengine.DuplicateError:
            assert policy == "reject"
            # All or nothing: the reference refuses the same batch.
            assert reference(stored + [batch], policy) == reference(stored, policy)
            continue
        stored.append(batch)
    expected = reference(stored, policy)
    assert norm(engine_rows(engine, fields)) == norm(expected)
    latest = engine.latest("t")
    newest = {k: points[-1][0] for k, points in expected.items()}
    got = dict(
        zip(
            latest.column("asset").to_pylist(),
            latest.column("time").cast(pa.int64()).to_pylist(),
        )
    )
    assert got == newest


@pytest.mark.parametrize("tag", ["dictionary", "string"])
@pytest.mark.parametrize("fields", [["v"], ["v", "n"], ["v", "n", "u", "ok"], ["ok"]])
def test_in_order_rings_fill_and_seal_mid_batch(tag, fields):
    # ~4 rows per series per batch into rings of 3: most series overflow mid-batch.
    run_case("last", fields, capacity=3, disorder=0.0, tag=tag, seed=len(fields))


@pytest.mark.parametrize("policy", ["last", "first", "keep", "reject"])
@pytest.mark.parametrize("fields", [["v", "n"], ["v", "n", "u", "ok"]])
def test_out_of_order_and_duplicates_mixed_in(policy, fields):
    disorder = 0.0005 if policy == "reject" else 0.03
    run_case(policy, fields, capacity=16, disorder=disorder, tag="dictionary", seed=7)


@pytest.mark.parametrize("policy", ["last", "keep"])
def test_large_rings_no_seal(policy):
    # Everything fits: the whole batch takes the native path.
    run_case(policy, ["v", "n"], capacity=4096, disorder=0.0, tag="dictionary", seed=3)


def test_two_tags_take_the_general_grouping():
    engine = tsengine.Engine()
    engine.create_table(
        "t", tags=["site", "asset"], fields={"v": "float64"}, ring_capacity=8
    )
    rng = np.random.default_rng(11)
    expected: dict = {}
    for b in range(3):
        n = 4000
        site = rng.integers(0, 3, n)
        asset = rng.integers(0, 300, n)
        t = np.arange(b * n, (b + 1) * n, dtype=np.int64)
        v = rng.random(n)
        engine.write(
            "t",
            {
                "time": t,
                "site": pa.array([f"s{s}" for s in site.tolist()]),
                "asset": pa.array([f"a{a}" for a in asset.tolist()]),
                "v": v,
            },
        )
        for s, a, ti, vi in zip(site.tolist(), asset.tolist(), t.tolist(), v.tolist()):
            expected.setdefault((f"s{s}", f"a{a}"), []).append((ti, vi))
    table = engine.read("t")
    got: dict = {}
    for s, a, ti, vi in zip(
        table.column("site").to_pylist(),
        table.column("asset").to_pylist(),
        table.column("time").cast(pa.int64()).to_pylist(),
        table.column("v").to_pylist(),
    ):
        got.setdefault((s, a), []).append((ti, vi))
    assert len(expected) > 512
    assert got == expected


def test_readers_see_whole_many_series_batches():
    """One writer of 600-series batches (each row tagged with its batch number,
    rings sealing as they go); readers must see every batch whole or not at all."""
    engine = tsengine.Engine()
    engine.create_table("t", tags=["asset"], fields={"batch": "int64"}, ring_capacity=8)
    names = pa.array([f"A{i:03d}" for i in range(600)])
    per_batch = 1800  # three rows per series
    readers = WholeBatchReaders(
        lambda: engine.read("t", fields=["batch"]).column("batch").to_numpy(),
        per_batch,
        2,
    )
    rng = np.random.default_rng(5)
    written = 0
    deadline = time.monotonic() + 20
    with readers:
        while written < 60 and time.monotonic() < deadline:
            codes = rng.permutation(np.repeat(np.arange(600, dtype=np.int32), 3))
            t = np.arange(written * per_batch, (written + 1) * per_batch)
            engine.write(
                "t",
                pa.table(
                    {
                        "time": t,
                        "asset": pa.DictionaryArray.from_arrays(codes, names),
                        "batch": np.full(per_batch, written, np.int64),
                    }
                ),
            )
            written += 1
    assert not readers.failures, readers.failures[:5]
    assert min(readers.reads) > 0
    assert engine.read("t").num_rows == written * per_batch
    assert engine.stats()["tables"]["t"]["sealed_points"] > 0

"""Series.append, the native one-point path, against Engine.write of the same
points (the general path) as the oracle: positional and keyword values, nulls,
every stored type, refused values, and points the native path must decline."""

from __future__ import annotations

import gc

import numpy as np
import pytest

import tsengine

FIELDS = {"f": "float64", "i": "int64", "u": "uint64", "b": "bool", "s": "string"}


def make_engine() -> tsengine.Engine:
    e = tsengine.Engine()
    e.create_table("t", tags=["k"], fields=FIELDS, ring_capacity=64)
    return e


def rows(engine: tsengine.Engine) -> list[dict]:
    return engine.read("t").to_pylist()


def random_point(rng: np.random.Generator, t: int) -> tuple[tuple, dict]:
    """Some leading fields positional, some others by keyword, some left null."""
    values = [
        float(rng.random()),
        int(rng.integers(-(2**40), 2**40)),
        # the whole uint64 range: also through Engine.write, from Python ints
        int(rng.integers(0, 2**64, dtype=np.uint64)),
        bool(rng.random() < 0.5),
        f"s{t}",
    ]
    names = list(FIELDS)
    n_pos = int(rng.integers(0, len(names) + 1))
    kw = {}
    for name, v in zip(names[n_pos:], values[n_pos:]):
        if rng.random() < 0.7:
            kw[name] = None if rng.random() < 0.2 else v
    return tuple(values[:n_pos]), kw


def test_random_points_match_the_general_path():
    rng = np.random.default_rng(11)
    fast, oracle = make_engine(), make_engine()
    s = fast.series("t", k="a")
    t = 0
    for _ in range(300):  # several times the ring: sealing interleaves
        t += int(rng.integers(1, 4))
        if rng.random() < 0.05:
            t -= 5  # out of order: the native path declines, the merge takes it
        values, kw = random_point(rng, t)
        s.append(t, *values, **kw)
        data = {"time": [t], "k": ["a"]}
        data.update({n: [v] for n, v in zip(FIELDS, values)})
        data.update({n: [v] for n, v in kw.items() if v is not None})
        oracle.write("t", data)
        if rng.random() < 0.1:
            gc.collect()  # borrowed values must still be the caller's
    assert rows(fast) == rows(oracle)


def test_keyword_overrides_positional_like_the_general_path():
    e = make_engine()
    s = e.series("t", k="a")
    s.append(0)  # creates the series: later points take the native path
    s.append(1, 1.5, f=2.5)
    assert rows(e)[1]["f"] == 2.5


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.append(2, 1.0, 5, 7, True, 3),  # string field given an int
        lambda s: s.append(2, f=1.0, i="x"),
        lambda s: s.append(2, f=1.0, u=-1),
        lambda s: s.append(2, f=1.0, i=2**63),
        lambda s: s.append(2, f=1.0, b=1),
    ],
)
def test_a_bad_value_stores_nothing(call):
    e = make_engine()
    s = e.series("t", k="a")
    s.append(1, f=0.5)
    with pytest.raises(tsengine.SchemaError):
        call(s)
    assert e.read("t").column("time").cast("int64").to_pylist() == [1]
    s.append(2, f=0.25)  # the ring is intact and takes the next point
    assert [r["f"] for r in rows(e)] == [0.5, 0.25]


def test_unknown_field_and_too_many_values_are_schema_errors():
    e = make_engine()
    s = e.series("t", k="a")
    with pytest.raises(tsengine.SchemaError, match="'nope'"):
        s.append(1, nope=1.0)
    with pytest.raises(tsengine.SchemaError):
        s.append(1, 1.0, 2, 3, True, "x", 9)
    assert e.read("t").num_rows == 0


def test_a_python_int_for_a_float_field_is_stored_on_every_path():
    """The native path stores an int into a float64 field; the first point of a
    series and out-of-order points go through Engine.write and must too."""
    e = tsengine.Engine()
    e.create_table("p", tags=["k"], fields={"f": "float64"})
    s = e.series("p", k="a")
    s.append(5, f=3)  # no ring yet: through Engine.write
    s.append(6, f=4)  # native
    s.append(1, f=2)  # out of order: through Engine.write
    assert e.read("p").column("f").to_pylist() == [2.0, 3.0, 4.0]

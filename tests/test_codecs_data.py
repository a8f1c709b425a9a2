"""Real-data round trips: every floatbench series, the ALP edge cases, NAB and SKAB.

The floatbench files hold ``""`` for missing values: they become nulls (validity), not
NaN. Every series goes through every float codec and the column chooser and must come
back bit for bit; the chooser must never lose to plain ALP, which is one of its
candidates.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from tsengine import codecs
from tsengine.codecs import column

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
FLOAT_FILES = sorted((SHARED / "floatbench").glob("*/*.csv"))


def read_floats(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Values and validity of a one-column floatbench file (``""`` or blank = null)."""
    values, valid = [], []
    for line in path.read_text().splitlines():
        text = line.strip()
        missing = text in ("", '""')
        values.append(0.0 if missing else float(text))
        valid.append(not missing)
    return np.array(values, dtype=np.float64), np.array(valid, dtype=bool)


def bits(x: np.ndarray) -> bytes:
    return x.tobytes()


@pytest.mark.parametrize("path", FLOAT_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_floatbench_series_round_trip(shared_data, path):
    values, valid = read_floats(path)
    present = values[valid]

    # Every float codec on the present values, bit for bit.
    for codec in column.CODECS_BY_KIND["float64"]:
        block = codecs.encode_column(present, kind="float64", codec=codec)
        out, validity = codecs.decode_column(block, source=path.name)
        assert validity is None and bits(out) == bits(present), codec

    # The chooser with the file's own nulls.
    block = codecs.encode_column(values, valid, kind="float64")
    out, validity = codecs.decode_column(block)
    if valid.all():
        assert validity is None
    else:
        assert np.array_equal(validity, valid)
    assert bits(out[valid]) == bits(present)
    plain_alp = codecs.encode_column(values, valid, kind="float64", codec="alp")
    assert len(block) <= len(plain_alp)
    assert len(block) + 4 < 8 * len(values)


def test_alp_edge_case_file_keeps_every_spelling(shared_data):
    path = shared_data / "floatbench" / "alp_edge_case" / "edge_case.csv"
    values, valid = read_floats(path)
    assert valid.sum() == 1024
    x = values[valid]
    assert np.signbit(x[x == 0]).sum() == 3  # the three -0.0
    assert np.isnan(x).sum() == 4 and np.isinf(x).sum() == 5
    for encode, decode in [
        (codecs.encode_alp, codecs.decode_alp),
        (codecs.encode_gorilla, codecs.decode_gorilla),
        (codecs.encode_chimp128, codecs.decode_chimp128),
    ]:
        assert bits(decode(encode(x))) == bits(x)


def nab_series(root: Path):
    for path in sorted((root / "nab").glob("real*/*.csv")):
        with path.open() as fh:
            rows = list(csv.reader(fh))[1:]
        stamps = np.array([r[0].replace(" ", "T") for r in rows], "datetime64[s]")
        times = stamps.astype("datetime64[ns]").view(np.int64)
        yield path.name, times, np.array([float(r[1]) for r in rows])


def test_nab_times_and_values_round_trip(shared_data):
    seen = 0
    for name, times, values in nab_series(shared_data):
        t_block = codecs.encode_column(times, kind="time")
        v_block = codecs.encode_column(values, kind="float64")
        assert np.array_equal(codecs.decode_column(t_block)[0], times), name
        assert bits(codecs.decode_column(v_block)[0]) == bits(values), name
        # 5-minute or 30-minute clocks with few gaps: well under a byte per point.
        assert len(t_block) < len(times), name
        seen += 1
    assert seen == 20


def test_skab_columns_round_trip(shared_data):
    path = shared_data / "skab" / "valve1" / "0.csv"
    with path.open() as fh:
        rows = list(csv.reader(fh, delimiter=";"))
    header, body = rows[0], rows[1:]
    for j, name in enumerate(header[1:], start=1):
        x = np.array([float(r[j]) for r in body])
        block = codecs.encode_column(x, kind="float64")
        assert bits(codecs.decode_column(block)[0]) == bits(x), name
    flags = np.array([r[header.index("anomaly")] == "1.0" for r in body])
    block = codecs.encode_column(flags, kind="bool")
    assert np.array_equal(codecs.decode_column(block)[0], flags)
    assert codecs.codec_name(block) == "runs"

"""The shared data sets as float64 series, for the compression table and codec cases.

Reads ``../shared/data`` (beside the repository): the floatbench series (``elf/`` and
``alp_samples/``; the ``alp_edge_case/`` files are left out), the NAB and SKAB sensor
files with their clocks, and the C-MAPSS columns. Each loader returns one
:class:`Series` per column, in file order. Missing floatbench values (``""``) are
dropped, as the papers do; times are int64 ns.
"""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


@dataclass
class Series:
    group: str
    name: str
    values: np.ndarray
    times: np.ndarray | None = field(default=None, repr=False)


def floatbench_series() -> list[Series]:
    out = []
    for path in sorted((DATA / "floatbench").glob("*/*.csv")):
        if path.parent.name == "alp_edge_case":
            continue
        words = [w.strip() for w in path.read_text().split()]
        x = np.array([float(w) for w in words if w not in ("", '""')])
        out.append(Series("floatbench", f"{path.parent.name}/{path.stem}", x))
    return out


def _ns(column: pa.ChunkedArray) -> np.ndarray:
    return column.cast(pa.timestamp("ns")).to_numpy().view(np.int64)


def nab_series() -> list[Series]:
    out = []
    for path in sorted((DATA / "nab").glob("real*/*.csv")):
        table = pcsv.read_csv(path)
        values = table.column("value").to_numpy().astype(np.float64)
        out.append(Series("nab", path.stem, values, _ns(table.column("timestamp"))))
    return out


def skab_series() -> list[Series]:
    out = []
    opts = pcsv.ParseOptions(delimiter=";")
    for path in sorted((DATA / "skab").glob("*/*.csv")):
        table = pcsv.read_csv(path, parse_options=opts)
        times = _ns(table.column("datetime"))
        for name in table.column_names[1:]:
            if name in ("anomaly", "changepoint"):
                continue
            values = table.column(name).to_numpy().astype(np.float64)
            label = f"{path.parent.name}/{path.stem}:{name}"
            out.append(Series("skab", label, values, times))
            times = None  # one time column per file
    return out


def cmapss_series() -> list[Series]:
    out = []
    for path in sorted((DATA / "cmapss").glob("*_FD00*.txt.gz")):
        rows = np.loadtxt(io.TextIOWrapper(gzip.open(path)))
        # Columns 3..26: operational settings and sensors (1, 2 are unit and cycle).
        for j in range(2, rows.shape[1]):
            name = f"{path.name.split('.')[0]}:c{j + 1}"
            out.append(Series("cmapss", name, np.ascontiguousarray(rows[:, j])))
    return out

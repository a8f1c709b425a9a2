"""Compression table: bits per value of tsengine's codecs next to general compressors.

Runs every series of ``../shared/data/floatbench`` (elf/ and alp_samples/), the NAB and
SKAB sensor files and the C-MAPSS columns through tsengine's chooser, its ALP (as in
the paper, and with tsengine's per-vector delta layout), Gorilla and Chimp128, zstd
(levels 3 and 19) on raw and byte-shuffled bytes, lz4, and Parquet (zstd with
dictionaries, and BYTE_STREAM_SPLIT + zstd), and prints Markdown tables:

1. floatbench, one row per series, with the ALP paper's published figures;
2. sensor datasets, totals per dataset and overall;
3. timestamps (NAB, SKAB, regular synthetic clocks);
4. single-core throughput of ALP beside zstd and a numpy copy (``--speed``).

A further table checks each ALP figure against the paper's: the whole first-100k copy,
its spread over 10k-value windows, and the paper's own 1,024-value sample.

Run ``PYTHONPATH=. python benchmarks/compression_table.py [--quick] [--speed]`` from the
repository root (about a minute; ``--quick`` skips zstd-19). This module formats and
prints the tables; the series come from :mod:`shared_datasets` and the measurements,
with how sizes are counted, from :mod:`compression_measure`. Its ``compression_rows()``,
``time_rows()``, ``speed_rows()`` and ``totals()`` stay importable from here for other
reports (``tsengine bench``).
"""

from __future__ import annotations

import argparse
import sys

from compression_measure import (
    WINDOW,
    compression_rows,
    group_members,
    measured_methods,
    speed_rows,
    subset_rows,
    time_rows,
    totals,
)

# bench_codecs.py imports the floatbench loader from here
from shared_datasets import floatbench_series as floatbench_series

# -- tables ------------------------------------------------------------------------

LABELS = {
    "auto": "tsengine",
    "alp": "ALP (paper)",
    "alp_delta": "ALP+Δ",
    "gorilla": "Gorilla",
    "chimp128": "Chimp128",
    "zstd3": "zstd-3",
    "zstd19": "zstd-19",
    "zstd3_shuf": "zstd-3 shuf",
    "zstd19_shuf": "zstd-19 shuf",
    "lz4": "lz4",
    "parquet_zstd": "PQ zstd",
    "parquet_bss": "PQ BSS+zstd",
}


def _table(header: list[str], body: list[list]) -> str:
    def cell(v):
        return f"{v:.2f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in body]
    return "\n".join(lines)


def subset_table(found: list[dict]) -> str:
    body = [
        [
            r["dataset"],
            r["published"],
            r["copy"],
            r["copy"] / r["published"],
            f"{r['window_min']:.1f}-{r['window_max']:.1f}"
            if r["window_min"] == r["window_min"]  # NaN: copy shorter than a window
            else "-",
            r["sample"],
            r["sample"] / r["published"],
        ]
        for r in found
    ]
    header = ["dataset", "published ALP", "first ~100k", "/ pub.",
              f"{WINDOW}-value windows", "paper's 1024 sample", "/ pub."]  # fmt: skip
    return _table(header, body)


def floatbench_table(rows: list[dict]) -> str:
    rows = [r for r in rows if r["group"] == "floatbench"]
    methods = measured_methods(rows)
    header = ["series", "n", "codec"] + [LABELS[m] for m in methods]
    header += ["published ALP", "ALP / pub.", "ALP+Δ / pub."]
    body = []
    for r in rows:
        paper = ["", "", ""]
        if "pub_alp" in r:
            pub = r["pub_alp"]
            paper = [pub, r["alp"] / pub, r["alp_delta"] / pub]
        body.append([r["series"], r["n"], r["codec"]] + [r[m] for m in methods] + paper)
    return _table(header, body)


def sensor_table(rows: list[dict]) -> str:
    groups = [g for g in ("nab", "skab", "cmapss") if group_members(rows, g)]
    methods = measured_methods(rows)
    header = ["dataset", "series", "values"] + [LABELS[m] for m in methods]
    header.append("PQ zstd / tsengine")
    body = []
    for g in groups + ["all sensors"]:
        t = totals(rows, g)
        members = group_members(rows, g)
        head = [g, len(members), sum(r["n"] for r in members)]
        body.append(head + [t[m] for m in methods] + [t["parquet_zstd"] / t["auto"]])
    return _table(header, body)


def time_table(rows: list[dict]) -> str:
    body = []
    for group in dict.fromkeys(r["group"] for r in rows):
        members = [r for r in rows if r["group"] == group]
        if group == "synthetic":
            body += [[group, r["series"], r["n"], r["codec"], r["auto"], r["zstd3"],
                      r["parquet_zstd"]] for r in members]  # fmt: skip
            continue
        n = sum(r["n"] for r in members)
        avg = {k: sum(r[k] * r["n"] for r in members) / n
               for k in ("auto", "zstd3", "parquet_zstd")}  # fmt: skip
        codecs_used = ", ".join(sorted({r["codec"] for r in members}))
        body.append([group, f"{len(members)} clocks", n, codecs_used, avg["auto"],
                     avg["zstd3"], avg["parquet_zstd"]])  # fmt: skip
    header = ["clock", "series", "points", "codec", "tsengine", "zstd-3", "PQ zstd"]
    return _table(header, body)


def speed_table(rows: list[dict]) -> str:
    keys = [k for k in rows[0] if k != "series"]
    body = [[r["series"]] + [r[k] for k in keys] for r in rows]
    mean = ["harmonic mean"] + [len(rows) / sum(1 / r[k] for r in rows) for k in keys]
    return _table(["series (MB/s)"] + keys, body + [mean])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="skip zstd level 19")
    parser.add_argument("--speed", action="store_true", help="also measure MB/s")
    args = parser.parse_args(argv)

    def progress(msg: str) -> None:
        print(f"\r\x1b[K{msg}", end="", file=sys.stderr, flush=True)

    rows = compression_rows(quick=args.quick, progress=progress)
    clocks = time_rows()
    progress("")
    print("## Floats: bits per value (floatbench; paper figures: ALP SIGMOD 2024)\n")
    print(floatbench_table(rows))
    print("\n## ALP against the published figures: codec or subset?\n")
    print(subset_table(subset_rows(rows)))
    print(
        "\nSame encoder (paper ALP, no delta) throughout. Where the first ~100k "
        "values land above the published full-dataset figure while the paper's own "
        "sample of the full dataset lands below it, and the figure moves this much "
        "from one window to the next, the gap is the subset, not the codec."
    )
    print("\n## Sensor datasets: bits per value over all series\n")
    print(sensor_table(rows))
    print("\n## Timestamps: bits per point\n")
    print(time_table(clocks))
    if args.speed:
        print("\n## Throughput, one core, MB/s of decoded float64\n")
        print(speed_table(speed_rows()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

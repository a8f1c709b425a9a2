"""Measurements behind the compression table, returned as one dict per row.

:func:`compression_rows` compresses every series of :mod:`shared_datasets` with
tsengine's chooser, its ALP (as in the paper, and with tsengine's per-vector delta
layout), Gorilla and Chimp128, zstd (levels 3 and 19) on raw and byte-shuffled bytes,
lz4, and Parquet (zstd with dictionaries, and BYTE_STREAM_SPLIT + zstd), next to the
ALP paper's published figures; :func:`subset_rows` checks each ALP figure against the
paper's; :func:`time_rows` sizes the clocks; :func:`speed_rows` times ALP beside zstd
and a numpy copy on one core; :func:`totals` sums a dataset family.

Sizes count whole blocks (header and checksum included); Parquet counts its compressed
column chunks only, not the file footer, which would dominate small series.
"""

from __future__ import annotations

import io
import time

import lz4.frame
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import zstandard
from shared_datasets import cmapss_series, floatbench_series, nab_series, skab_series

from tsengine import codecs

#: ALP paper artifact, table 4 (bits per value): Gorilla, Chimp128, ALP, zstd.
PUBLISHED = {
    "Air-Pressure": (24.5, 19.2, 16.4, 9.4),
    "Basel-Temp": (60.5, 31.1, 30.7, 18.4),
    "Basel-Wind": (62.2, 38.4, 29.8, 14.7),
    "Bird-Migration": (47.8, 26.4, 20.1, 21.0),
    "Bitcoin-Price": (54.7, 45.0, 26.4, 42.1),
    "City-Temp": (58.8, 23.0, 10.7, 16.8),
    "Dew-Point-Temp": (54.9, 32.6, 13.4, 25.1),
    "IR-Bio-Temp": (50.7, 18.9, 10.8, 17.5),
    "PM10-dust": (27.5, 13.7, 8.6, 7.8),
    "Stocks-DE": (46.2, 13.6, 11.0, 10.5),
    "Stocks-UK": (34.8, 16.8, 12.6, 10.3),
    "Stocks-USA": (37.2, 12.2, 7.9, 8.6),
    "Wind-dir": (58.1, 27.8, 15.9, 25.5),
}
#: Which local file holds (part of) which published dataset.
PAPER_NAME = dict(
    pair.split("=")
    for pair in (
        "elf/Air-pressure=Air-Pressure elf/Basel-temp=Basel-Temp "
        "elf/Basel-wind=Basel-Wind elf/Bird-migration=Bird-Migration "
        "elf/Bitcoin-price=Bitcoin-Price elf/Dew-point-temp=Dew-Point-Temp "
        "elf/IR-bio-temp=IR-Bio-Temp elf/PM10-dust=PM10-dust elf/Stocks-UK=Stocks-UK "
        "elf/Stocks-USA=Stocks-USA alp_samples/neon_air_pressure=Air-Pressure "
        "alp_samples/basel_temp_f=Basel-Temp alp_samples/basel_wind_f=Basel-Wind "
        "alp_samples/bird_migration_f=Bird-Migration "
        "alp_samples/bitcoin_f=Bitcoin-Price "
        "alp_samples/neon_dew_point_temp=Dew-Point-Temp "
        "alp_samples/neon_bio_temp_c=IR-Bio-Temp alp_samples/neon_pm10_dust=PM10-dust "
        "alp_samples/stocks_uk=Stocks-UK alp_samples/stocks_usa_c=Stocks-USA "
        "alp_samples/neon_wind_dir=Wind-dir"
    ).split()
)
METHODS = (
    "auto", "alp", "alp_delta", "gorilla", "chimp128", "zstd3", "zstd19", "zstd3_shuf",
    "zstd19_shuf", "lz4", "parquet_zstd", "parquet_bss",
)  # fmt: skip

# -- measurements ------------------------------------------------------------------


def _parquet_bytes(x: np.ndarray, **options) -> int:
    buf = io.BytesIO()
    pq.write_table(pa.table({"v": x}), buf, **options)
    meta = pq.ParquetFile(io.BytesIO(buf.getvalue())).metadata
    return sum(
        meta.row_group(i).column(0).total_compressed_size
        for i in range(meta.num_row_groups)
    )


def _shuffled(raw: bytes, width: int = 8) -> bytes:
    return np.frombuffer(raw, np.uint8).reshape(-1, width).T.tobytes()


def sizes(x: np.ndarray, quick: bool = False) -> dict[str, int]:
    """Compressed bytes of ``x`` under every method (zstd-19 skipped when quick)."""
    raw = x.tobytes()
    z3 = zstandard.ZstdCompressor(level=3)
    out = {
        "auto": len(codecs.encode_column(x, kind="float64")),
        "alp": len(codecs.encode_alp(x, delta=False)),
        "alp_delta": len(codecs.encode_alp(x)),
        "gorilla": len(codecs.encode_gorilla(x)),
        "chimp128": len(codecs.encode_chimp128(x)),
        "zstd3": len(z3.compress(raw)),
        "zstd3_shuf": len(z3.compress(_shuffled(raw))),
        "lz4": len(lz4.frame.compress(raw)),
        "parquet_zstd": _parquet_bytes(x, compression="zstd"),
        "parquet_bss": _parquet_bytes(
            x, compression="zstd", use_dictionary=False, use_byte_stream_split=True
        ),
    }
    if not quick:
        z19 = zstandard.ZstdCompressor(level=19)
        out["zstd19"] = len(z19.compress(raw))
        out["zstd19_shuf"] = len(z19.compress(_shuffled(raw)))
    return out


def compression_rows(
    groups: tuple[str, ...] = ("floatbench", "nab", "skab", "cmapss"),
    quick: bool = False,
    progress=None,
) -> list[dict]:
    """One dict per series: group, series, n, bits per value per method, codec chosen,
    and the published figures where the ALP paper lists the dataset."""
    loaders = {
        "floatbench": floatbench_series,
        "nab": nab_series,
        "skab": skab_series,
        "cmapss": cmapss_series,
    }
    rows = []
    for group in groups:
        for s in loaders[group]():
            if progress:
                progress(f"{group}: {s.name}")
            found = sizes(s.values, quick)
            row = {"group": group, "series": s.name, "n": len(s.values)}
            row["codec"] = codecs.codec_name(
                codecs.encode_column(s.values, kind="float64")
            )
            row.update({m: 8 * b / len(s.values) for m, b in found.items()})
            row["bytes"] = found
            paper = PAPER_NAME.get(s.name)
            if paper:
                g, c128, a, z = PUBLISHED[paper]
                row.update(paper=paper, pub_gorilla=g, pub_chimp128=c128, pub_alp=a,
                           pub_zstd=z)  # fmt: skip
            rows.append(row)
    return rows


#: Values per window of the subset check.
WINDOW = 10_240


def subset_rows(rows: list[dict]) -> list[dict]:
    """Where the local copies stand against the ALP paper's full-dataset figures.

    Per published dataset with an ``elf/`` copy (the first ~100k values): paper ALP
    bits per value on the whole copy, their range over consecutive windows of
    ``WINDOW`` values, and on the paper authors' own 1,024-value sample of the full
    dataset (``alp_samples/``), all with the same encoder. A figure within the
    window range and on the other side of the published one from the sample is a
    matter of which values were kept, not of the codec.
    """
    by_name = {r["series"]: r for r in rows if r["group"] == "floatbench"}
    series = {s.name: s.values for s in floatbench_series()}
    out = []
    for name, paper in PAPER_NAME.items():
        if not name.startswith("elf/") or name not in by_name:
            continue
        x = series[name]
        windows = [
            8 * len(codecs.encode_alp(x[i : i + WINDOW], "alp", delta=False)) / WINDOW
            for i in range(0, len(x) - WINDOW + 1, WINDOW)
        ]
        others = [s for s, p in PAPER_NAME.items() if p == paper and s != name]
        sample = next((s for s in others if s in by_name), None)
        pub = PUBLISHED[paper][2]
        out.append(
            {
                "dataset": paper,
                "published": pub,
                "copy": by_name[name]["alp"],
                "window_min": min(windows, default=float("nan")),
                "window_max": max(windows, default=float("nan")),
                "sample": by_name[sample]["alp"] if sample else float("nan"),
            }
        )
    return out


def time_rows() -> list[dict]:
    """Bits per timestamp for the sensor clocks and synthetic regular clocks."""
    clocks = [(s.group, s.name, s.times) for s in nab_series() + skab_series()]
    clocks = [c for c in clocks if c[2] is not None]
    start = 1_700_000_000 * 10**9
    for n in (1024, 4096, 65_536, 1_000_000):
        clocks.append(("synthetic", f"1 Hz, {n} points", start + np.arange(n) * 10**9))
    rows = []
    for group, name, t in clocks:
        block = codecs.encode_column(t, kind="time")
        z3 = zstandard.ZstdCompressor(level=3).compress(t.tobytes())
        rows.append(
            {
                "group": group,
                "series": name,
                "n": len(t),
                "codec": codecs.codec_name(block),
                "auto": 8 * len(block) / len(t),
                "zstd3": 8 * len(z3) / len(t),
                "parquet_zstd": 8 * _parquet_bytes(t, compression="zstd") / len(t),
            }
        )
    return rows


def _best(fn, seconds: float = 0.3) -> float:
    """Best wall time of ``fn`` over repeated runs after one warm-up call."""
    fn()
    best = float("inf")
    deadline = time.perf_counter() + seconds
    while True:
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
        if time.perf_counter() > deadline:
            return best


def speed_rows() -> list[dict]:
    """Single-core MB/s (decoded bytes) per elf series: ALP, the chooser, baselines."""
    rows = []
    z3c = zstandard.ZstdCompressor(level=3)
    z3d = zstandard.ZstdDecompressor()
    for s in floatbench_series():
        if not s.name.startswith("elf/"):
            continue
        x = s.values
        mb = x.nbytes / 1e6
        alp_block = codecs.encode_alp(x)
        col_block = codecs.encode_column(x, kind="float64")
        zblob = z3c.compress(x.tobytes())
        chimp = codecs.encode_chimp128(x)
        rows.append(
            {
                "series": s.name,
                "alp_encode": mb / _best(lambda x=x: codecs.encode_alp(x)),
                "alp_decode": mb / _best(lambda b=alp_block: codecs.decode_alp(b)),
                "auto_encode": mb
                / _best(lambda x=x: codecs.encode_column(x, kind="float64")),
                "auto_decode": mb / _best(lambda b=col_block: codecs.decode_column(b)),
                "chimp128_decode": mb
                / _best(lambda b=chimp: codecs.decode_chimp128(b)),
                "zstd3_encode": mb / _best(lambda x=x: z3c.compress(x.tobytes())),
                "zstd3_decode": mb / _best(lambda b=zblob: z3d.decompress(b)),
                "numpy_copy": mb / _best(lambda x=x: x.copy()),
            }
        )
    return rows


# -- totals ------------------------------------------------------------------------


def measured_methods(rows: list[dict]) -> list[str]:
    """The methods of :data:`METHODS` that ``rows`` were measured with, in order."""
    return [m for m in METHODS if m in rows[0]]


def group_members(rows: list[dict], group: str) -> list[dict]:
    """Rows of one group; ``"all sensors"`` is every group but floatbench."""
    if group == "all sensors":
        return [r for r in rows if r["group"] != "floatbench"]
    return [r for r in rows if r["group"] == group]


def totals(rows: list[dict], group: str) -> dict[str, float]:
    """Bits per value over all series of a group (total bytes / total values)."""
    members = group_members(rows, group)
    n = sum(r["n"] for r in members)
    return {
        m: 8 * sum(r["bytes"][m] for r in members) / n for m in measured_methods(rows)
    }

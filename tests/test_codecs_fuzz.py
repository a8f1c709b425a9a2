"""Fuzzing every decoder with random and mutated blocks: only CorruptionError comes out.

Three kinds of damage, all from fixed seeds so a failure reproduces:

- random bytes, bare or behind a plausible header;
- bit flips and truncations of real blocks, checksum left alone (the CRC must catch
  them) or recomputed (so the payload parsers themselves are exercised);
- blocks rebuilt around a damaged payload, validity section or row count, with a
  correct frame and checksum: these reach the kernels, which must refuse them.

The default run takes a few seconds. ``test_fuzz_with_numba_bounds_checks`` (slow)
repeats it in a child process compiled with ``NUMBA_BOUNDSCHECK=1``, where a kernel that
reads or writes out of bounds raises IndexError instead of silently reading memory.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

from tsengine import codecs
from tsengine.codecs import _frame
from tsengine.errors import CorruptionError

DECODERS = [
    codecs.decode_column,
    codecs.decode_alp,
    codecs.decode_gorilla,
    codecs.decode_chimp128,
    codecs.decode_time,
    codecs.decode_int,
    codecs.decode_bool,
    codecs.decode_string,
]


def seed_blocks() -> list[bytes]:
    """One or more real blocks of every codec and kind, small enough to fuzz fast."""
    i = np.arange(2100, dtype=np.int64)
    walk = np.round(np.cumsum((i * 7919) % 13 - 6) * 0.01 + 40.0, 2)
    reals = ((i * 7919) % 10007) / 10007.0 * 3.0
    special = np.array([0x8000000000000000, 0x7FF0000000000001, 1], np.uint64)
    mixed = np.r_[walk[:1500], special.view(np.float64)]
    valid = (i % 7) != 2
    drift = np.round(np.cumsum(i % 7) * 0.001 + 12.5, 3)  # takes ALP's delta layout
    out = [
        codecs.encode_alp(mixed, "alp"),
        codecs.encode_alp(np.r_[drift, special.view(np.float64)], "alp"),
        codecs.encode_alp(reals, "alp-rd"),
        codecs.encode_gorilla(mixed[:400]),
        codecs.encode_chimp128(mixed[:400]),
        codecs.encode_column(np.repeat(walk[:30], 70), kind="float64", codec="dict"),
        codecs.encode_column(walk, valid, kind="float64", codec="alp+zstd"),
        codecs.encode_column(walk[:50], kind="float64", codec="raw"),
        codecs.encode_bool(valid, "bitmap"),
        codecs.encode_bool(i // 300 % 2 == 0, "runs"),
        codecs.encode_string(np.array([f"s{k % 9}" for k in range(500)], object)),
        codecs.encode_column(
            np.array([f"état{k % 5}" for k in range(300)], object),
            valid[:300],
            kind="string",
        ),
    ]
    clock = 10**18 + i * 10**9 + np.where(i % 101 == 0, 5 * 10**9, 0)
    for codec in ("step", "delta", "dod", "for", "rle", "raw"):
        data = i * 10**9 if codec == "step" else clock
        out.append(codecs.encode_time(data, codec))
    out.append(codecs.encode_int((i // 50).astype(np.uint64), "rle"))
    out.append(codecs.encode_column(i % 5 - 2, valid, kind="int64", codec="for"))
    return out


def reseal(block: bytearray) -> bytes:
    """Recompute the CRC of a (damaged) block so that parsing goes past the check."""
    crc = zlib.crc32(bytes(block[9:]), zlib.crc32(bytes(block[:5])))
    block[5:9] = crc.to_bytes(4, "little")
    return bytes(block)


def flip(rng: np.random.Generator, data: bytes, flips: int) -> bytearray:
    buf = bytearray(data)
    for _ in range(flips):
        if buf:
            k = int(rng.integers(0, len(buf) * 8))
            buf[k // 8] ^= 1 << (k % 8)
    return buf


def rebuilt(rng: np.random.Generator, block: bytes) -> bytes:
    """A well-framed block whose payload, validity or count has been damaged."""
    frame = _frame.parse(block, "seed", 0)
    payload, _ = _frame.inflate(frame)
    payload = bytes(payload)
    validity = None if frame.validity is None else bytes(frame.validity)
    count = frame.count
    what = rng.integers(0, 6)
    if what == 0 and payload:  # flip payload bits
        payload = bytes(flip(rng, payload, int(rng.integers(1, 9))))
    elif what == 1:  # cut or extend the payload
        cut = int(rng.integers(0, len(payload) + 1))
        payload = payload[:cut] + bytes(
            rng.integers(0, 256, rng.integers(0, 3), np.uint8)
        )
    elif what == 2:  # lie about the row count
        count = int(
            rng.choice([0, 1, count - 1, count + 1, count * 2, 1023, 1025, 65_537])
        )
        count = max(0, count)
    elif what == 3 and validity:  # damage the nulls
        validity = bytes(flip(rng, validity, int(rng.integers(1, 5))))
    elif what == 4:  # overwrite a 1..8 byte field with extremes
        if payload:
            at = int(rng.integers(0, len(payload)))
            width = int(rng.integers(1, 9))
            fill = rng.choice([0x00, 0xFF, 0x7F, 0x80])
            buf = bytearray(payload)
            buf[at : at + width] = bytes([fill]) * len(buf[at : at + width])
            payload = bytes(buf)
    else:  # random payload of a plausible size
        payload = bytes(rng.integers(0, 256, len(payload), np.uint8))
    name = _frame.CODEC_NAMES[frame.codec]
    kind = _frame.KINDS[frame.kind]
    if rng.integers(0, 2) and frame.zstd_raw_len >= 0:
        raw_len = len(payload)
        payload = codecs.column.strings.compress(payload)
        return _frame.build(name, kind, count, payload, validity, raw_len)
    return _frame.build(name, kind, count, payload, validity)


def mutants(seed: int, per_block: int):
    """Yield (label, bytes) damaged inputs derived from the seed blocks."""
    rng = np.random.default_rng(seed)
    blocks = seed_blocks()
    for _ in range(per_block):
        n = int(rng.integers(0, 64))
        yield "random", bytes(rng.integers(0, 256, n, np.uint8))
        head = b"TC\x01" + bytes(rng.integers(0, 256, 2 + n, np.uint8))
        yield "random+header", reseal(bytearray(head + bytes(4)))
    for block in blocks:
        for _ in range(per_block):
            kind = rng.integers(0, 4)
            if kind == 0:
                yield "flip", bytes(flip(rng, block, int(rng.integers(1, 4))))
            elif kind == 1:
                yield "flip+reseal", reseal(flip(rng, block, int(rng.integers(1, 4))))
            elif kind == 2:
                cut = int(rng.integers(0, len(block)))
                yield "truncate", block[:cut]
            else:
                yield "rebuilt", rebuilt(rng, block)


def run_fuzz(seed: int, per_block: int) -> list[str]:
    """Feed every mutant to every decoder; return descriptions of any bad outcome."""
    problems = []
    for label, data in mutants(seed, per_block):
        for decode in DECODERS:
            try:
                decode(data, source="fuzz.bin", offset=1000)
            except CorruptionError as exc:
                if "fuzz.bin" not in str(exc):
                    problems.append(f"{label}/{decode.__name__}: message {exc}")
            except Exception as exc:  # noqa: BLE001 - any other error is the bug
                problems.append(
                    f"{label}/{decode.__name__}: {type(exc).__name__} {exc}"
                )
    return problems


def test_seed_blocks_decode_cleanly():
    for block in seed_blocks():
        codecs.decode_column(block)


def test_fuzzed_blocks_raise_only_corruption_errors():
    start = time.perf_counter()
    problems = run_fuzz(seed=20240601, per_block=40)
    assert problems == [], problems[:10]
    assert time.perf_counter() - start < 60, "fuzz run should take a few seconds"


def test_every_damaged_block_is_detected_by_the_checksum():
    # Without a recomputed CRC, any flipped bit must be reported, not decoded.
    rng = np.random.default_rng(5)
    for block in seed_blocks():
        for _ in range(20):
            with pytest.raises(CorruptionError):
                codecs.decode_column(bytes(flip(rng, block, 1)))


@pytest.mark.slow
def test_fuzz_with_numba_bounds_checks():
    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as cache:
        env = dict(
            os.environ,
            NUMBA_BOUNDSCHECK="1",
            NUMBA_CACHE_DIR=cache,
            TSENGINE_NUMBA_CACHE="0",
            PYTHONPATH=str(root),
        )
        proc = subprocess.run(
            [sys.executable, __file__],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


if __name__ == "__main__":
    found = run_fuzz(seed=777, per_block=25)
    print("\n".join(found[:20]) or "no problems")
    sys.exit(1 if found else 0)

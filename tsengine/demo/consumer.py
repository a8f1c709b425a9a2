"""The demo's consumer: a digital twin in another process, reading over Arrow Flight.

:class:`ConsumerProcess` starts ``python -m tsengine.demo.consumer URL``, a separate
process running :func:`consume`, which connects with :func:`tsengine.connect` and
polls, every ``interval`` seconds, what an APM dashboard shows:

1. new closed windows of the 1-second KPI rollup (a cursor on the window start), and
   the 1-minute rollup;
2. the latest point of every vibration asset, turbofan engine and the NAB machine;
3. a raw range: the last ``raw_ms`` milliseconds of the asset it watches (the one
   whose RMS drifts most, once it knows).

After each poll it writes a :class:`ConsumerReport` as one JSON line on its stdout:
calls, rows and bytes received per kind, median latency, the asset it flags and any
errors. It stops when its stdin closes (the parent closes it, or dies).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import deque
from dataclasses import asdict, dataclass, field

from tsengine.demo.fleet import TABLE
from tsengine.demo.kpis import KPI_1M, KPI_1S, drift, kpis, latest_per_asset
from tsengine.demo.replay import CMAPSS_TABLE, NAB_TABLE

KINDS = ("kpi_1s", "kpi_1m", "latest", "raw")


@dataclass
class ConsumerReport:
    """What the consumer received so far (cumulative)."""

    polls: int = 0
    calls: dict = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    rows: dict = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    bytes: int = 0
    latency_ms: dict = field(default_factory=dict)  # kind -> median of recent calls
    assets_with_kpis: int = 0
    kpi_windows: int = 0
    flagged: str | None = None
    flagged_ratio: float | None = None
    flagged_rms: float | None = None
    watched: str | None = None
    latest_assets: int = 0
    latest_units: int = 0
    latest_machine_value: float | None = None
    errors: list = field(default_factory=list)
    done: bool = False


def consume(url: str, stop, reports, interval: float = 0.5, raw_ms: int = 100) -> None:
    """Poll the server at ``url`` until ``stop`` (an Event) is set, passing each
    report to ``reports.put``. Runs in the consumer process."""
    import tsengine

    report = ConsumerReport()
    recent = {kind: deque(maxlen=200) for kind in KINDS}
    baseline: dict = {}
    newest: dict = {}
    cursor = None
    client = None
    replayed: set = set()  # replayed tables the server has, asked until all exist

    while not stop.is_set():
        began = time.perf_counter()
        try:
            if client is None:
                client = tsengine.connect(url, timeout=10)

            # 1. KPI windows closed since the last poll, and the minute view
            start = None if cursor is None else cursor + 1
            rows = _timed(report, recent, "kpi_1s", client.read, KPI_1S, start=start)
            items = kpis(rows)
            if items:
                cursor = max(k.start for k in items)
                report.kpi_windows += len(items)
                fresh = latest_per_asset(items)
                for asset, k in fresh.items():
                    baseline.setdefault(asset, k)
                newest.update(fresh)
            _timed(report, recent, "kpi_1m", client.read, KPI_1M)
            ranked = drift(baseline, newest)
            report.assets_with_kpis = len(newest)
            if ranked:
                report.flagged, report.flagged_ratio = ranked[0]
                report.flagged_rms = newest[report.flagged].rms

            # 2. the latest value of every asset, engine and machine
            latest = _timed(report, recent, "latest", client.latest, TABLE)
            report.latest_assets = latest.num_rows
            if len(replayed) < 2:
                replayed = set(client.tables()) & {CMAPSS_TABLE, NAB_TABLE}
            for table in sorted(replayed):
                got = _timed(report, recent, "latest", client.latest, table)
                if table == CMAPSS_TABLE:
                    report.latest_units = got.num_rows
                elif got.num_rows:
                    report.latest_machine_value = got.column("value")[0].as_py()

            # 3. a raw range of the watched asset, ending at its latest point
            if latest.num_rows:
                report.watched = report.flagged or latest.column("asset")[0].as_py()
                mask = [a == report.watched for a in latest.column("asset").to_pylist()]
                end = latest.filter(mask).column("time").cast("int64")[0].as_py() + 1
                _timed(
                    report,
                    recent,
                    "raw",
                    client.read,
                    TABLE,
                    start=end - raw_ms * 1_000_000,
                    end=end,
                    where={"asset": report.watched},
                )
        except Exception as exc:  # noqa: BLE001 - reported to the parent, not lost
            if len(report.errors) < 10:
                report.errors.append(f"{type(exc).__name__}: {exc}")
            if client is not None and "connect" in str(exc).lower():
                client = None
        report.polls += 1
        report.latency_ms = {
            kind: statistics.median(v) for kind, v in recent.items() if v
        }
        reports.put(asdict(report))
        stop.wait(max(0.0, interval - (time.perf_counter() - began)))

    report.done = True
    reports.put(asdict(report))
    if client is not None:
        client.close()


def _timed(report, recent, kind, call, *args, **kwargs):
    start = time.perf_counter()
    result = call(*args, **kwargs)
    recent[kind].append((time.perf_counter() - start) * 1e3)
    report.calls[kind] += 1
    report.rows[kind] += result.num_rows
    report.bytes += result.nbytes
    return result


def _stop_on_eof(stop) -> None:
    # the parent closes our stdin to stop us, or dies, which closes it too
    sys.stdin.buffer.read()
    stop.set()


class _Lines:
    """A ``put`` that writes each report as one JSON line on stdout."""

    def put(self, report: dict) -> None:
        sys.stdout.write(json.dumps(report) + "\n")
        sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    """``python -m tsengine.demo.consumer URL [INTERVAL [RAW_MS]]``: poll until stdin
    closes, one JSON report per line on stdout."""
    args = sys.argv[1:] if argv is None else argv
    url = args[0]
    interval = float(args[1]) if len(args) > 1 else 0.5
    raw_ms = int(args[2]) if len(args) > 2 else 100
    stop = threading.Event()
    threading.Thread(target=_stop_on_eof, args=(stop,), daemon=True).start()
    reports = _Lines()
    try:
        consume(url, stop, reports, interval, raw_ms)
    except BaseException:  # noqa: BLE001 - the parent shows it in the summary
        reports.put({"fatal": traceback.format_exc(), "done": True})
        return 1
    return 0


class ConsumerProcess:
    """The consumer as a child process, seen from the parent.

    Started with ``python -m tsengine.demo.consumer``: a fresh interpreter, as a
    separate service would be, that never inherits the server's gRPC threads. A
    reader thread keeps the newest report in :attr:`report`.
    """

    def __init__(self, url: str, interval: float = 0.5, raw_ms: int = 100) -> None:
        self.report: dict = {}
        self.stderr = b""
        # a file, not a pipe: a chatty child must never block on a full pipe
        self._errors = tempfile.TemporaryFile()
        self._done = threading.Event()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tsengine.demo.consumer",
                url,
                str(interval),
                str(raw_ms),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._errors,
            env=_child_env(),
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            try:
                self.report = json.loads(line)
            except ValueError:
                continue  # not a report: ignore rather than lose the last good one
        self._done.set()

    def stop(self, timeout: float = 15.0) -> dict:
        """Close the child's stdin, wait for its final report and exit; returns the
        last report (with ``"exit_code"``)."""
        try:
            self.process.stdin.close()
        except OSError:
            pass
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self._done.wait(5)
        if not self._errors.closed:
            self._errors.seek(0)
            self.stderr = self._errors.read()
            self._errors.close()
        report = dict(self.report)
        report["exit_code"] = self.process.returncode
        if self.process.returncode and not report.get("fatal"):
            report["fatal"] = self.stderr.decode("utf-8", "replace")[-2000:]
        return report


def _child_env() -> dict:
    # the child must import this very tsengine, even when run from a source tree
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    paths = [root, *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    return env


__all__ = ["ConsumerProcess", "ConsumerReport", "consume", "main"]


if __name__ == "__main__":
    sys.exit(main())

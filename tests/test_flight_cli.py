"""`tsengine serve` as a process: start-up log, refusing an open bind, graceful stop."""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import tsengine
from tsengine.cli.main import build_parser, main

REPO = Path(__file__).resolve().parent.parent
TOKEN = "cli-test-token-0123456789abcdef"


def start_serve(*args: str, env: dict | None = None) -> tuple[subprocess.Popen, int]:
    """Run ``tsengine serve --port 0 ARGS`` and return the process and its port."""
    environment = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    command = [sys.executable, "-m", "tsengine.cli.main", "serve", "--port", "0"]
    proc = subprocess.Popen(
        [*command, *args],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=environment,
    )
    deadline = time.monotonic() + 60
    lines = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line)
        match = re.search(r"listening on grpc(?:\+tls)?://127\.0\.0\.1:(\d+)", line)
        if match:
            proc.startup_log = "".join(lines)
            return proc, int(match.group(1))
    proc.kill()
    raise AssertionError("server did not start:\n" + "".join(lines))


def stop(proc: subprocess.Popen, signum: int = signal.SIGTERM) -> tuple[int, str]:
    """Send ``signum``; return the exit status and the rest of the log."""
    proc.send_signal(signum)
    try:
        _, rest = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    return proc.returncode, rest


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serve_logs_and_stops_gracefully(signum):
    proc, port = start_serve(env={"TSENGINE_TOKENS": TOKEN})
    try:
        assert "auth: bearer tokens (1 static" in proc.startup_log
        assert "tls: off" in proc.startup_log
        client = tsengine.connect(f"grpc://127.0.0.1:{port}", token=TOKEN)
        client.write("pump", {"time": np.arange(10), "v": np.arange(10.0)})
        assert client.read("pump").num_rows == 10
        # a subscription in progress must not hold the shutdown up
        subscription = client.subscribe("pump")
    finally:
        status, log = stop(proc, signum)
    assert status == 0, log
    assert f"received {signal.Signals(signum).name}" in log
    assert f"Flight server on grpc://127.0.0.1:{port} stopped" in log
    assert list(subscription) == []  # ended by the server, not an error
    client.close()


def test_serve_refuses_open_bind_without_auth():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("TSENGINE_TOKENS", None)
    done = subprocess.run(
        [sys.executable, "-m", "tsengine.cli.main", "serve", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 2
    assert "refusing to serve on 0.0.0.0:8815 without authentication" in done.stderr
    assert "--insecure" in done.stderr


def test_serve_bad_token_file_is_a_clean_error(tmp_path):
    path = tmp_path / "tokens"
    path.write_text("short\n")
    status = main(["serve", "--port", "0", "--token-file", str(path)])
    assert status == 2


def test_serve_on_a_taken_port_is_a_clean_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status = main(["serve", "--port", str(port)])
    assert status == 2


def test_parser_lists_serve_options():
    args = build_parser().parse_args(
        ["serve", "--data", "d", "--host", "::1", "--port", "9", "--insecure"]
    )
    assert (args.data, args.host, args.port, args.insecure) == ("d", "::1", 9, True)
    assert args.token_env == "TSENGINE_TOKENS"


@pytest.mark.skipif(
    importlib.util.find_spec("tsengine.storage.durable") is None,
    reason="durable engines (tsengine.storage.durable) have not landed yet",
)
def test_serve_durable_data_survives_sigterm(tmp_path):
    data = tmp_path / "plant.tse"
    proc, port = start_serve("--data", str(data), "--durability", "none")
    try:
        client = tsengine.connect(f"grpc://127.0.0.1:{port}")
        client.write("pump", {"time": np.arange(1000), "v": np.arange(1000.0)})
        client.close()
    finally:
        status, log = stop(proc)
    assert status == 0, log
    with tsengine.Engine(data) as engine:
        assert engine.read("pump").column("v").to_pylist() == list(range(1000))

"""Starting and stopping a Flight server: location, credentials, TLS, signals, logs.

:func:`serve` refuses to listen beyond loopback without authentication (tokens, users
or mutual TLS) unless ``insecure=True``: an open port on a plant network must be a
decision, not a default. :func:`run_until_signal` blocks until SIGINT or SIGTERM,
then shuts the server down gracefully and flushes the engine.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import signal
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.flight as flight

from tsengine.flight.auth import Authenticator, load_tokens
from tsengine.flight.errors import RequestError
from tsengine.flight.server import (
    MAX_PUT_BATCH_BYTES,
    SUBSCRIBER_MAX_BYTES,
    FlightServer,
)

log = logging.getLogger("tsengine.flight")

DEFAULT_LOCATION = "grpc://127.0.0.1:8815"
_SCHEMES = ("grpc", "grpc+tcp", "grpc+tls")


def split_location(location: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of ``grpc[+tls]://host:port`` or ``host:port``."""
    text = location if "://" in location else f"grpc://{location}"
    parts = urlsplit(text)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in _SCHEMES or not parts.hostname or port is None:
        raise RequestError(
            f"location {location!r} must look like 'grpc://host:port' or "
            "'grpc+tls://host:port'"
        )
    return parts.scheme, parts.hostname, port


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere


def _pem(value: str | bytes | os.PathLike | None, what: str) -> bytes | None:
    # PEM text is used as is; anything else is a path to a PEM file
    if value is None:
        return None
    if isinstance(value, bytes) and value.lstrip().startswith(b"-----BEGIN"):
        return value
    if isinstance(value, str) and value.lstrip().startswith("-----BEGIN"):
        return value.encode()
    path = Path(os.fsdecode(value))
    try:
        return path.read_bytes()
    except OSError as exc:
        raise RequestError(
            f"cannot read {what} {str(path)!r}: {exc.strerror}"
        ) from None


def serve(
    engine: Any,
    location: str = DEFAULT_LOCATION,
    *,
    tokens: Iterable[str] = (),
    token_file: str | os.PathLike | None = None,
    token_env: str | None = None,
    users: dict[str, str] | None = None,
    tls_cert: str | bytes | os.PathLike | None = None,
    tls_key: str | bytes | os.PathLike | None = None,
    tls_ca: str | bytes | os.PathLike | None = None,
    insecure: bool = False,
    block: bool = False,
    max_put_batch_bytes: int = MAX_PUT_BATCH_BYTES,
    subscriber_max_bytes: int = SUBSCRIBER_MAX_BYTES,
) -> FlightServer:
    """Serve ``engine`` over Arrow Flight.

    Parameters
    ----------
    engine : tsengine.Engine
        The engine to serve; it stays open after the server stops.
    location : str
        ``grpc://host:port`` (``grpc+tls://`` with TLS; plain ``host:port`` works
        too). Port 0 picks a free port: read it from ``server.port``.
    tokens, token_file, token_env
        Accepted bearer tokens: given, one per line in a file, or comma-separated
        in an environment variable. Each is at least 16 characters.
    users : dict of str to str, optional
        User name to password for basic logins exchanged for a bearer token.
    tls_cert, tls_key : path or PEM, optional
        Server certificate chain and private key; turns TLS on.
    tls_ca : path or PEM, optional
        CA bundle for client certificates; turns mutual TLS on (needs TLS).
    insecure : bool
        Allow a non-loopback address without tokens, users or mutual TLS.
    block : bool
        Block until SIGINT/SIGTERM, then shut down and flush (main thread only).

    Returns
    -------
    FlightServer
        Already listening.

    Raises
    ------
    RequestError
        Bad location, half a TLS key pair, unreadable PEM files, or an unprotected
        non-loopback bind without ``insecure``.

    Examples
    --------
    >>> import tsengine
    >>> engine = tsengine.Engine()
    >>> server = tsengine.serve(engine, "grpc://127.0.0.1:0")
    >>> server.port > 0
    True
    >>> server.shutdown()
    """
    scheme, host, port = split_location(location)

    # TLS: a key pair turns it on; a CA on top asks clients for certificates
    cert, key, ca = (
        _pem(tls_cert, "TLS certificate"),
        _pem(tls_key, "TLS key"),
        _pem(tls_ca, "TLS CA"),
    )
    if (cert is None) != (key is None):
        raise RequestError(
            "TLS needs both a certificate (tls_cert) and a key (tls_key)"
        )
    if ca is not None and cert is None:
        raise RequestError("mutual TLS (tls_ca) needs a server certificate and key")
    if cert is not None:
        scheme = "grpc+tls"
    elif scheme == "grpc+tls":
        raise RequestError(
            f"location {location!r} asks for TLS but no tls_cert is given"
        )

    # authentication, and the refusal to expose an open port by accident
    authenticator = Authenticator(load_tokens(tokens, token_file, token_env), users)
    protected = authenticator.enabled or ca is not None
    if not is_loopback(host) and not protected and not insecure:
        raise RequestError(
            f"refusing to serve on {host}:{port} without authentication; give "
            "tokens, users or mutual TLS (tls_ca), or pass insecure=True (--insecure)"
        )
    if not is_loopback(host) and authenticator.enabled and cert is None:
        log.warning("bearer tokens on %s travel unencrypted: consider TLS", host)

    try:
        server = FlightServer(
            engine,
            f"{scheme}://{host}:{port}",
            authenticator=authenticator,
            tls_certificates=[flight.CertKeyPair(cert, key)] if cert else None,
            verify_client=ca is not None,
            root_certificates=ca,
            max_put_batch_bytes=max_put_batch_bytes,
            subscriber_max_bytes=subscriber_max_bytes,
        )
    except pa.ArrowException as exc:
        # gRPC only says "did not start"; a taken port is by far the usual cause.
        raise RequestError(
            f"cannot listen on {host}:{port} ({exc}); is another server using "
            "that port, or is the TLS certificate or key invalid?"
        ) from None
    server.location = f"{scheme}://{host}:{server.port}"
    auth_mode = authenticator.describe() if authenticator.enabled else "none"
    if ca is not None:
        auth_mode += ", client certificates (mutual TLS)"
    log.info(
        "tsengine Flight server listening on %s (auth: %s; tls: %s)",
        server.location,
        auth_mode,
        "on" if cert else "off",
    )
    if block:
        run_until_signal(server)
    return server


def run_until_signal(
    server: FlightServer, signals: Iterable[int] = (signal.SIGINT, signal.SIGTERM)
) -> int:
    """Block until one of ``signals`` arrives, then shut down and flush.

    Must run on the main thread (Python delivers signals there). Returns the signal
    number received. The previous handlers are restored before returning.
    """
    received: list[int] = []
    stop = threading.Event()

    def on_signal(signum, frame) -> None:
        received.append(signum)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in signals}
    try:
        # a timed wait lets Python run the handler promptly
        while not stop.wait(0.5):
            pass
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    signum = received[0]
    log.info("received %s: shutting down", signal.Signals(signum).name)
    server.shutdown(flush=True)
    return signum

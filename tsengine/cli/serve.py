"""Serve an engine over Arrow Flight until SIGINT or SIGTERM.

Without --data the engine lives in memory. Binding beyond loopback needs
authentication (a token file, $TSENGINE_TOKENS, a users file, or mutual TLS with
--tls-ca) unless --insecure is given. On SIGINT/SIGTERM the server stops taking calls,
ends subscriptions, waits for calls in flight, flushes and closes the engine.

examples:
  tsengine serve --port 8815
  TSENGINE_TOKENS=$(cat token) tsengine serve --data plant.tse --host 0.0.0.0 \\
      --tls-cert server.pem --tls-key server.key
"""

from __future__ import annotations

import argparse

HELP = "serve an engine over Arrow Flight"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``tsengine serve``."""
    parser.add_argument(
        "--data", metavar="DIR", help="durable engine directory (default: in memory)"
    )
    parser.add_argument(
        "--durability",
        choices=["sync", "interval", "none"],
        default="interval",
        help="when a durable write is acknowledged (default: interval)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="default: 127.0.0.1")
    parser.add_argument("--port", type=int, default=8815, help="default: 8815")
    parser.add_argument(
        "--token-file", metavar="FILE", help="accepted bearer tokens, one per line"
    )
    parser.add_argument(
        "--token-env",
        metavar="VAR",
        default="TSENGINE_TOKENS",
        help="environment variable with comma-separated tokens "
        "(default: TSENGINE_TOKENS)",
    )
    parser.add_argument(
        "--users-file",
        metavar="FILE",
        help="user:password lines for basic logins (keep it readable by you only)",
    )
    parser.add_argument("--tls-cert", metavar="PEM", help="server certificate chain")
    parser.add_argument("--tls-key", metavar="PEM", help="server private key")
    parser.add_argument(
        "--tls-ca", metavar="PEM", help="CA for client certificates (mutual TLS)"
    )
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="allow a non-loopback address without any authentication",
    )


def location(host: str, port: int) -> str:
    """``grpc://host:port``, with brackets around an IPv6 address."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"grpc://{host}:{port}"


def run(args: argparse.Namespace) -> int:
    """Open the engine, serve it until a signal, then flush and close it."""
    from tsengine import Engine
    from tsengine.flight import run_until_signal, serve
    from tsengine.flight.auth import load_users

    users = load_users(args.users_file) if args.users_file else None
    engine = Engine(args.data, durability=args.durability) if args.data else Engine()
    try:
        server = serve(
            engine,
            location(args.host, args.port),
            token_file=args.token_file,
            token_env=args.token_env,
            users=users,
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
            tls_ca=args.tls_ca,
            insecure=args.insecure,
        )
        run_until_signal(server)
    finally:
        engine.close()
    return 0

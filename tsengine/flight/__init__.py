"""Arrow Flight endpoint of tsengine: server, client, commands, auth.

Modules, from the wire inwards:

- :mod:`~tsengine.flight.client` -- :func:`connect` and the :class:`Client`;
- :mod:`~tsengine.flight.lifecycle` -- :func:`serve`: location, TLS, auth, signals;
- :mod:`~tsengine.flight.server` -- the ``FlightServerBase`` and its RPC handlers;
- :mod:`~tsengine.flight.auth` -- bearer tokens and basic logins as middleware;
- :mod:`~tsengine.flight.puts` -- DoPut: atomic batches, acks, read-ahead;
- :mod:`~tsengine.flight.commands` -- JSON commands: decoding, limits, checks;
- :mod:`~tsengine.flight.queries` -- running commands, bounded result batches;
- :mod:`~tsengine.flight.actions` -- DoAction verbs (health, stats, flush, ...);
- :mod:`~tsengine.flight.subscriptions` -- live rows for DoExchange;
- :mod:`~tsengine.flight.errors` -- tsengine errors to Flight statuses and back.
"""

from tsengine.flight.client import Client, Subscription, connect
from tsengine.flight.errors import (
    AuthError,
    RequestError,
    ServerError,
    UnsupportedError,
)
from tsengine.flight.lifecycle import run_until_signal, serve
from tsengine.flight.server import FlightServer

__all__ = [
    "AuthError",
    "Client",
    "FlightServer",
    "RequestError",
    "ServerError",
    "Subscription",
    "UnsupportedError",
    "connect",
    "run_until_signal",
    "serve",
]

"""Errors across the wire: tsengine errors to Flight statuses and back.

The server turns every exception a handler raises into the Flight status a client can
act on. Messages start with the tsengine error class (``"SchemaError: ..."``) so the
Python client can raise the same class again; other Flight clients read a plain
message.

============================  =========================  ============================
server side                   gRPC status                client side
============================  =========================  ============================
TableNotFoundError            NOT_FOUND                  TableNotFoundError
RequestError, SchemaError,    INVALID_ARGUMENT           same class, or RequestError
TimestampError, ParseError...
NotImplementedError           UNIMPLEMENTED              UnsupportedError
ClosedError, BudgetError of   UNAVAILABLE                same class
a write (backpressure)
BudgetError of a query        INVALID_ARGUMENT           BudgetError
authentication failure        UNAUTHENTICATED            AuthError
anything else (a bug)         INTERNAL, logged in full   ServerError
============================  =========================  ============================

pyarrow sends INVALID_ARGUMENT, NOT_FOUND and UNIMPLEMENTED only for Python exceptions
and appends their traceback after ``". Detail: "``; :func:`to_flight` raises them from
the handler boundary so that traceback is one frame long, and the client strips it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager

import pyarrow as pa
import pyarrow.flight as flight

from tsengine import errors as tse

log = logging.getLogger("tsengine.flight")


class RequestError(tse.Error, ValueError):
    """A Flight request is malformed: bad JSON, a wrong type, an unknown argument."""


class AuthError(tse.Error, PermissionError):
    """The server refused the credentials, or none were sent."""


class UnsupportedError(tse.Error, NotImplementedError):
    """The server does not offer what the request asks for."""


class ServerError(tse.Error, RuntimeError):
    """The server failed while handling a request, or could not be reached."""


_INVALID = (tse.Error, pa.ArrowInvalid, ValueError, TypeError, OverflowError)
# Flight statuses and the class the client raises when the message names none.
_FALLBACK: list[tuple[type, type]] = [
    (pa.ArrowKeyError, tse.TableNotFoundError),
    (flight.FlightUnauthenticatedError, AuthError),
    (flight.FlightUnauthorizedError, AuthError),
    (pa.ArrowNotImplementedError, UnsupportedError),
    (pa.ArrowInvalid, RequestError),
]
_NAMED = re.compile(r"^(\w+Error): ")
_KNOWN = {
    cls.__name__: cls
    for cls in (
        *(getattr(tse, name) for name in tse.__all__),
        RequestError,
        AuthError,
        UnsupportedError,
        ServerError,
    )
}


def to_flight(exc: BaseException, method: str) -> BaseException:
    """The Flight-level exception to raise for ``exc`` raised by handler ``method``.

    Parameters
    ----------
    exc : BaseException
        What the handler raised.
    method : str
        Handler name, for the log line of an unexpected error.
    """
    if isinstance(exc, flight.FlightError):
        return exc
    name = type(exc).__name__
    text = f"{name}: {exc}" if isinstance(exc, tse.Error) else str(exc)
    if isinstance(exc, tse.TableNotFoundError):
        return pa.ArrowKeyError(text)
    if isinstance(exc, tse.ClosedError) or (
        isinstance(exc, tse.BudgetError) and method == "DoPut"
    ):
        # the engine is closing, or a write met backpressure: worth retrying later
        return flight.FlightUnavailableError(text)
    if isinstance(exc, tse.BudgetError):
        # a query larger than a limit: the same request will fail again
        return pa.ArrowInvalid(text)
    if isinstance(exc, NotImplementedError):
        return pa.ArrowNotImplementedError(f"UnsupportedError: {exc}")
    if isinstance(exc, _INVALID):
        if not isinstance(exc, tse.Error):
            text = f"RequestError: {exc}"
        return pa.ArrowInvalid(text)
    # Anything else is a bug: log the traceback here, send no internals to the peer.
    log.error("internal error in %s", method, exc_info=exc)
    return flight.FlightInternalError(f"internal error in {method}: {name}")


@contextmanager
def translated(method: str) -> Iterator[None]:
    """Run a handler body; re-raise what it raises as the matching Flight error."""
    try:
        yield
    except Exception as exc:
        raise to_flight(exc, method) from None


def from_flight(exc: BaseException) -> BaseException:
    """The tsengine exception a client raises for a Flight error ``exc``.

    The class named at the start of the server's message wins; otherwise the Flight
    status decides. The server's traceback detail is dropped from the message.
    """
    message = str(exc).split(". Detail: ", 1)[0]
    message = message.split("\nDetail: ", 1)[0]
    match = _NAMED.match(message)
    if match and match.group(1) in _KNOWN:
        return _KNOWN[match.group(1)](message[match.end() :])
    for status, cls in _FALLBACK:
        if isinstance(exc, status):
            return cls(message)
    if isinstance(exc, flight.FlightUnavailableError | flight.FlightTimedOutError):
        return ServerError(f"server unavailable: {message}")
    if isinstance(exc, flight.FlightCancelledError):
        return ServerError(f"call cancelled: {message}")
    return ServerError(message)


@contextmanager
def remote(what: str) -> Iterator[None]:
    """Client side: turn a Flight error from call ``what`` into a tsengine error."""
    try:
        yield
    except (flight.FlightError, pa.ArrowException) as exc:
        raise from_flight(exc) from exc
    except OSError as exc:
        raise ServerError(f"{what} failed: {exc}") from exc

"""Errors across the wire: tsengine errors to Flight statuses and back.

The server turns every exception a handler raises into the Flight status a client can
act on. Messages start with the tsengine error class (``"SchemaError: ..."``) so the
Python client can raise the same class again; other Flight clients read a plain
message, and ``extra_info`` names the status meant when the transport has to say
UNKNOWN (see below).

============================  ===============================  ======================
server side                   Flight status (extra_info)       client side
============================  ===============================  ======================
TableNotFoundError            UNKNOWN (``NOT_FOUND``)          TableNotFoundError
RequestError, SchemaError,    UNKNOWN (``INVALID_ARGUMENT``)   same class, or
TimestampError, ParseError...                                  RequestError
NotImplementedError           UNKNOWN (``UNIMPLEMENTED``)      UnsupportedError
ClosedError, BudgetError of   UNAVAILABLE                      same class
a write (backpressure)
BudgetError of a query        UNKNOWN (``INVALID_ARGUMENT``)   BudgetError
authentication failure        UNAUTHENTICATED                  AuthError
anything else (a bug)         INTERNAL, logged in full         ServerError
============================  ===============================  ======================

Why UNKNOWN and not INVALID_ARGUMENT or NOT_FOUND: a Python Flight server can send
those codes only by raising ``ArrowInvalid`` or ``ArrowKeyError``, and pyarrow then
appends the handler's whole Python traceback to the message every client reads. Only
``FlightError`` subclasses leave as a bare message, and their codes are INTERNAL,
UNAVAILABLE, UNAUTHENTICATED, PERMISSION_DENIED, CANCELLED, DEADLINE_EXCEEDED and
UNKNOWN (``FlightServerError``). So a request's fault is a ``FlightServerError`` whose
``extra_info`` is the status name meant (ASCII bytes, e.g. ``b"NOT_FOUND"``). A
pyarrow release that lets Python send a status code with no traceback would let the
real codes come back. GetSchema is the exception: see :func:`_as_arrow`.
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


#: Longest message sent to a client, in characters; longer ones are cut.
MAX_MESSAGE_CHARS = 2000

_INVALID = (tse.Error, pa.ArrowInvalid, ValueError, TypeError, OverflowError)
# Status meant (a FlightServerError's extra_info) and the class the client raises
# when the message names none.
_MEANT: dict[bytes, type] = {
    b"NOT_FOUND": tse.TableNotFoundError,
    b"INVALID_ARGUMENT": RequestError,
    b"UNIMPLEMENTED": UnsupportedError,
}
_ARROW: dict[bytes, type] = {
    b"NOT_FOUND": pa.ArrowKeyError,
    b"INVALID_ARGUMENT": pa.ArrowInvalid,
    b"UNIMPLEMENTED": pa.ArrowNotImplementedError,
}
# Flight statuses and the class the client raises when the message names none
# (the Arrow exceptions are what older tsengine servers sent).
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


def to_flight(exc: BaseException, method: str) -> flight.FlightError:
    """The Flight-level exception to raise for ``exc`` raised by handler ``method``.

    Parameters
    ----------
    exc : BaseException
        What the handler raised.
    method : str
        Handler name, for the log line of an unexpected error.

    Returns
    -------
    flight.FlightError
        Always a ``FlightError``: pyarrow sends its message alone, where any other
        exception would reach the client with the server's traceback appended.
    """
    if isinstance(exc, flight.FlightError):
        return exc
    name = type(exc).__name__
    text = f"{name}: {exc}" if isinstance(exc, tse.Error) else str(exc)
    if isinstance(exc, tse.TableNotFoundError):
        return _refused(text, b"NOT_FOUND")
    if isinstance(exc, tse.ClosedError) or (
        isinstance(exc, tse.BudgetError) and method == "DoPut"
    ):
        # the engine is closing, or a write met backpressure: worth retrying later
        return flight.FlightUnavailableError(_clip(text))
    if isinstance(exc, tse.BudgetError):
        # a query larger than a limit: the same request will fail again
        return _refused(text, b"INVALID_ARGUMENT")
    if isinstance(exc, NotImplementedError):
        return _refused(f"UnsupportedError: {exc}", b"UNIMPLEMENTED")
    if isinstance(exc, _INVALID):
        if not isinstance(exc, tse.Error):
            text = f"RequestError: {exc}"
        return _refused(text, b"INVALID_ARGUMENT")
    # Anything else is a bug: log the traceback here, send no internals to the peer.
    log.error("internal error in %s", method, exc_info=exc)
    return flight.FlightInternalError(f"internal error in {method}: {name}")


def _refused(text: str, meant: bytes) -> flight.FlightServerError:
    # a request the server refuses; ``meant`` is the gRPC status it stands for
    return flight.FlightServerError(_clip(text), extra_info=meant)


def _clip(text: str) -> str:
    # an engine message may list every table; the client needs the first part
    if len(text) <= MAX_MESSAGE_CHARS:
        return text
    return text[: MAX_MESSAGE_CHARS - 20] + f"... ({len(text)} chars)"


@contextmanager
def translated(method: str) -> Iterator[None]:
    """Run a handler body; re-raise what it raises as the matching Flight error."""
    try:
        yield
    except Exception as exc:
        error = to_flight(exc, method)
        if method == "GetSchema":
            error = _as_arrow(error)
        raise error from None


def _as_arrow(error: flight.FlightError) -> Exception:
    """The Arrow exception of the status ``error`` stands for (GetSchema only).

    pyarrow's GetSchema callback, unlike every other, does not turn a
    ``FlightError`` into its status: whatever it raises reaches the client with
    the traceback appended. The Arrow exception at least keeps the real status
    code (INVALID_ARGUMENT, NOT_FOUND); the traceback stays until pyarrow's
    ``_get_schema`` catches ``FlightError`` like the other callbacks.
    """
    arrow = _ARROW.get(getattr(error, "extra_info", b""))
    if arrow is None or not isinstance(error, flight.FlightServerError):
        return error
    return arrow(str(error))


def from_flight(exc: BaseException) -> BaseException:
    """The tsengine exception a client raises for a Flight error ``exc``.

    The class named at the start of the server's message wins; then the status the
    server meant (``extra_info``); then the Flight status. What pyarrow appends after
    the server's message (``". Detail: "``, a traceback from older servers) is
    dropped.
    """
    message = str(exc).split(". Detail: ", 1)[0]
    message = message.split("\nDetail: ", 1)[0]
    match = _NAMED.match(message)
    if match and match.group(1) in _KNOWN:
        return _KNOWN[match.group(1)](message[match.end() :])
    meant = getattr(exc, "extra_info", b"")
    if isinstance(exc, flight.FlightServerError) and meant in _MEANT:
        return _MEANT[meant](message)
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

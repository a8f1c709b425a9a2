"""Errors across the wire: tsengine errors to Flight statuses and back.

The server turns every exception a handler raises into the Flight status a client can
act on. Messages start with the tsengine error class (``"SchemaError: ..."``) and name
the bad value, so the Python client can raise the same class again and any other
Flight client (C++, Java, Go) gets the right status code and a plain message.

======================  ================  ==========================  ================
server side             gRPC status       raw pyarrow client          tsengine client
======================  ================  ==========================  ================
TableNotFoundError      NOT_FOUND         ArrowKeyError               same class
other tsengine.Error    INVALID_ARGUMENT  ArrowInvalid                same class
ValueError, TypeError   INVALID_ARGUMENT  ArrowInvalid                RequestError
NotImplementedError     UNIMPLEMENTED     ArrowNotImplementedError    UnsupportedError
ClosedError             UNAVAILABLE       FlightUnavailableError      same class
BudgetError of a write  UNAVAILABLE       FlightUnavailableError      same class
authentication failure  UNAUTHENTICATED   FlightUnauthenticatedError  AuthError
anything else (a bug)   INTERNAL          FlightInternalError         ServerError
======================  ================  ==========================  ================

UNAVAILABLE means try again later (the engine is closing, or a write met
backpressure); a BudgetError of a query is a request too large and fails again. A bug
is logged in full on the server and its message names only the handler and the
exception class. Messages longer than :data:`MAX_MESSAGE_CHARS` are cut.

What pyarrow appends: a Python Flight server can send INVALID_ARGUMENT, NOT_FOUND and
UNIMPLEMENTED only by raising ``ArrowInvalid``, ``ArrowKeyError`` or
``ArrowNotImplementedError``, and pyarrow then adds ``". Detail: "`` and the Python
traceback to the message. :func:`handler` raises a new exception at the handler
boundary with ``from None``, so that traceback is the shortest pyarrow makes: two
frames, pyarrow's own callback and the boundary, with no server internals and no
exception chain. On streaming calls (DoGet, DoPut, DoExchange) the pyarrow client
repeats the server's message once more, as gRPC's debug context. The tsengine client
keeps what comes before ``". Detail: "``.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import pyarrow as pa
import pyarrow.flight as flight

from tsengine import errors as tse

log = logging.getLogger("tsengine.flight")

Handler = TypeVar("Handler", bound=Callable)


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


def to_flight(exc: BaseException, method: str) -> Exception:
    """The new exception a handler raises, for ``exc`` raised by handler ``method``.

    Parameters
    ----------
    exc : BaseException
        What the handler raised.
    method : str
        Handler name, for the log line of an unexpected error.

    Returns
    -------
    Exception
        An Arrow exception whose class pyarrow sends as the status (``ArrowInvalid``
        as INVALID_ARGUMENT, ``ArrowKeyError`` as NOT_FOUND,
        ``ArrowNotImplementedError`` as UNIMPLEMENTED), or a ``FlightError``
        (``exc`` itself if it is one).
    """
    if isinstance(exc, flight.FlightError):
        return exc
    name = type(exc).__name__
    if isinstance(exc, tse.Error):
        text = _clip(f"{name}: {exc}")
    elif isinstance(exc, NotImplementedError):
        text = _clip(f"UnsupportedError: {exc}")
    else:  # a bad argument the engine caught as a built-in, or a bug
        text = _clip(f"RequestError: {exc}")
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
        return pa.ArrowNotImplementedError(text)
    if isinstance(exc, _INVALID):
        return pa.ArrowInvalid(text)
    # Anything else is a bug: log the traceback here, send no internals to the peer.
    log.error("internal error in %s", method, exc_info=exc)
    return flight.FlightInternalError(f"internal error in {method}: {name}")


def _clip(text: str) -> str:
    # an engine message may list every table; the client needs the first part
    if len(text) <= MAX_MESSAGE_CHARS:
        return text
    return text[: MAX_MESSAGE_CHARS - 20] + f"... ({len(text)} chars)"


def handler(method: str) -> Callable[[Handler], Handler]:
    """Decorator: Flight handler ``method`` raises only what :func:`to_flight` makes.

    Parameters
    ----------
    method : str
        The RPC's name (``"DoGet"``, ``"DoPut"``, ...): DoPut's backpressure is
        UNAVAILABLE, and an internal error's log line and message name it.

    Notes
    -----
    pyarrow appends the Python traceback of an Arrow exception to the message every
    client reads. The exception is new, raised here with ``from None`` and no
    traceback of its own, so what pyarrow appends is its own frame and this one: no
    file, line or exception of the server's internals.
    """

    def decorate(body: Handler) -> Handler:
        @functools.wraps(body)
        def boundary(*args, **kwargs):
            try:
                return body(*args, **kwargs)
            except Exception as exc:
                error = to_flight(exc, method).with_traceback(None)
            raise error from None

        return boundary  # type: ignore[return-value]

    return decorate


def from_flight(exc: BaseException) -> BaseException:
    """The tsengine exception a client raises for a Flight error ``exc``.

    The class named at the start of the server's message wins, then the Flight
    status. What pyarrow appends after the server's message (``". Detail: "`` and
    the server's traceback) is dropped.
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

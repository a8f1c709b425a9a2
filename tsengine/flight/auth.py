"""Authentication for the Flight server: bearer tokens and basic logins.

Every call carries ``authorization: Bearer <token>``. Tokens come from the server's
configuration (a file, an environment variable, or a list), or are issued for a basic
``user:password`` login: a call (normally the Flight handshake) that sends
``authorization: Basic <base64>`` gets a fresh bearer token back in the response
header of the same name, which is what ``FlightClient.authenticate_basic_token``
expects.

Secrets are compared as SHA-256 digests with :func:`hmac.compare_digest`, are never
logged, and are never part of an error message. A failure is a Flight
UNAUTHENTICATED error; the log line names the RPC and the reason only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import secrets
import threading
import time
from collections.abc import Iterable
from pathlib import Path

import pyarrow.flight as flight

from tsengine.flight.errors import RequestError

log = logging.getLogger("tsengine.flight")

#: Shortest accepted token or password, in characters.
MIN_SECRET_LENGTH = 16
#: Lifetime of a token issued for a basic login, in seconds.
ISSUED_TOKEN_SECONDS = 24 * 3600
#: Default environment variable holding comma-separated tokens.
TOKEN_ENV = "TSENGINE_TOKENS"


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8")).digest()


def _check_strength(secret: str, where: str) -> None:
    # the message says where the weak secret is, never what it is
    if len(secret) < MIN_SECRET_LENGTH:
        raise RequestError(
            f"{where} is {len(secret)} characters; use at least {MIN_SECRET_LENGTH}"
        )


def load_tokens(
    tokens: Iterable[str] = (),
    token_file: str | os.PathLike | None = None,
    token_env: str | None = None,
) -> list[str]:
    """Collect bearer tokens from a list, a file and an environment variable.

    Parameters
    ----------
    tokens : iterable of str
        Tokens given directly.
    token_file : path, optional
        A file with one token per line; blank lines and ``#`` comments are skipped.
    token_env : str, optional
        Name of an environment variable holding comma- or space-separated tokens
        (an unset variable adds nothing).

    Raises
    ------
    RequestError
        A token is shorter than :data:`MIN_SECRET_LENGTH` (the error names where).
    OSError
        The token file cannot be read.
    """
    found = []
    for i, token in enumerate(tokens):
        _check_strength(token, f"token #{i}")
        found.append(token)
    if token_file is not None:
        for lineno, line in enumerate(Path(token_file).read_text().splitlines(), 1):
            token = line.split("#", 1)[0].strip()
            if token:
                _check_strength(token, f"token on line {lineno} of {token_file}")
                found.append(token)
    if token_env:
        for i, token in enumerate(
            os.environ.get(token_env, "").replace(",", " ").split()
        ):
            _check_strength(token, f"token #{i} of ${token_env}")
            found.append(token)
    return found


def load_users(users_file: str | os.PathLike) -> dict[str, str]:
    """Read ``user:password`` lines (blank lines and ``#`` comments skipped)."""
    users = {}
    for lineno, line in enumerate(Path(users_file).read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, password = line.partition(":")
        if not sep or not user:
            raise RequestError(f"line {lineno} of {users_file} is not 'user:password'")
        users[user] = password
    return users


class Authenticator:
    """Accepted tokens, known users, and tokens issued to logged-in users.

    Parameters
    ----------
    tokens : iterable of str
        Static bearer tokens.
    users : dict of str to str, optional
        User name to password for basic logins.
    issued_seconds : float
        Lifetime of a token issued for a basic login.
    """

    def __init__(
        self,
        tokens: Iterable[str] = (),
        users: dict[str, str] | None = None,
        issued_seconds: float = ISSUED_TOKEN_SECONDS,
    ) -> None:
        self._tokens = {_digest(t) for t in tokens}
        users = dict(users or {})
        for user, password in users.items():
            _check_strength(password, f"password of user {user!r}")
        self._users = {u: _digest(p) for u, p in users.items()}
        self._issued: dict[bytes, tuple[str, float]] = {}
        self._issued_seconds = issued_seconds
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        """True if any token or user is configured."""
        return bool(self._tokens or self._users)

    def describe(self) -> str:
        """Auth mode for the start-up log line (counts only, no secrets)."""
        return (
            f"bearer tokens ({len(self._tokens)} static, basic logins for "
            f"{len(self._users)} user(s))"
        )

    def check_token(self, token: str) -> str | None:
        """The principal a bearer token belongs to, or None if it is not accepted."""
        digest = _digest(token)
        if digest in self._tokens:
            return "token"
        with self._lock:
            issued = self._issued.get(digest)
            if issued is None:
                return None
            user, expires = issued
            if time.monotonic() >= expires:
                del self._issued[digest]
                return None
        return user

    def login(self, user: str, password: str) -> str | None:
        """A new bearer token for valid basic credentials, else None."""
        expected = self._users.get(user)
        # compare against a dummy digest for unknown users, so timing says nothing
        ok = hmac.compare_digest(_digest(password), expected or _digest(user + "\0"))
        if expected is None or not ok:
            return None
        token = secrets.token_urlsafe(32)
        now = time.monotonic()
        with self._lock:
            self._issued = {d: v for d, v in self._issued.items() if v[1] > now}
            self._issued[_digest(token)] = (user, now + self._issued_seconds)
        return token


class HandshakeHandler(flight.ServerAuthHandler):
    """Lets the Flight handshake through; :class:`AuthMiddlewareFactory` decides.

    ``FlightClient.authenticate_basic_token`` logs in with a handshake call, which
    Flight refuses as unimplemented unless the server has an auth handler.
    """

    def authenticate(self, outgoing, incoming) -> None:
        return None

    def is_valid(self, token) -> str:
        return ""


class _Authenticated(flight.ServerMiddleware):
    """Per-call record of who called; sends an issued token back for basic logins."""

    def __init__(self, principal: str, issued: str | None = None) -> None:
        self.principal = principal
        self._issued = issued

    def sending_headers(self) -> dict[str, str]:
        if self._issued is None:
            return {}
        return {"authorization": f"Bearer {self._issued}"}


class AuthMiddlewareFactory(flight.ServerMiddlewareFactory):
    """Server middleware that rejects every call without valid credentials."""

    def __init__(self, authenticator: Authenticator) -> None:
        self.authenticator = authenticator
        self.failures = 0

    def start_call(self, info, headers) -> _Authenticated:
        values = headers.get("authorization") or headers.get("Authorization") or []
        if not values:
            self._reject(info, "no authorization header")
        scheme, _, credential = str(values[0]).strip().partition(" ")
        scheme = scheme.lower()
        credential = credential.strip()
        if scheme == "bearer":
            principal = self.authenticator.check_token(credential)
            if principal is None:
                self._reject(info, "bearer token not accepted")
            return _Authenticated(principal)
        if scheme == "basic":
            user, password = self._basic(info, credential)
            token = self.authenticator.login(user, password)
            if token is None:
                self._reject(info, f"basic login refused for user {user!r}")
            log.info("issued a bearer token to user %r", user)
            return _Authenticated(user, token)
        self._reject(info, f"unsupported authorization scheme {scheme[:20]!r}")

    def _basic(self, info, credential: str) -> tuple[str, str]:
        try:
            text = base64.b64decode(credential, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            self._reject(info, "basic credentials are not base64 of 'user:password'")
        user, sep, password = text.partition(":")
        if not sep:
            self._reject(info, "basic credentials are not 'user:password'")
        return user, password

    def _reject(self, info, reason: str):
        self.failures += 1
        method = getattr(info.method, "name", info.method)
        log.warning("authentication failed for %s: %s", method, reason)
        raise flight.FlightUnauthenticatedError(f"unauthenticated: {reason}")

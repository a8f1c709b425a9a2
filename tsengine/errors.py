"""The error tree: one root, ``tsengine.Error``, and one subclass per failure domain.

Each subclass also inherits the built-in exception a caller would naturally catch, so
``except ValueError`` keeps working for code that does not know tsengine.
"""

from __future__ import annotations


class Error(Exception):
    """Root of every error tsengine raises on purpose."""


class SchemaError(Error, ValueError):
    """A column, type or table definition does not match what is stored."""


class TimestampError(Error, ValueError):
    """A time value is malformed or outside the int64 nanosecond range."""


class ParseError(Error, ValueError):
    """Text input (line protocol, CSV, a query string) could not be parsed."""


class DuplicateError(Error, ValueError):
    """A point collides with a stored one under the ``"reject"`` duplicate policy."""


class ArgumentError(Error, ValueError):
    """An argument of a call is outside what it accepts (``latest(n=0)``)."""


class TableNotFoundError(Error, LookupError):
    """A table, rollup or series that the request names does not exist."""


class CorruptionError(Error, OSError):
    """Stored or received bytes fail their checksum or cannot be decoded."""


class BudgetError(Error, MemoryError):
    """A memory or disk budget is exhausted and the writer may not wait any longer."""


class ClosedError(Error, RuntimeError):
    """The engine was closed; no further reads or writes are possible."""


__all__ = [
    "BudgetError",
    "ClosedError",
    "CorruptionError",
    "DuplicateError",
    "Error",
    "ParseError",
    "SchemaError",
    "TableNotFoundError",
    "TimestampError",
]

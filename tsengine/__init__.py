"""tsengine: time-series ingestion for industrial sensor data.

Columnar ring buffers, compressed sealed chunks, windowed KPIs and an Arrow Flight
endpoint, embedded in a Python service. See :class:`Engine`.
"""

from tsengine.engine import Engine
from tsengine.errors import (
    ArgumentError,
    BudgetError,
    ClosedError,
    CorruptionError,
    DuplicateError,
    Error,
    ParseError,
    SchemaError,
    TableNotFoundError,
    TimestampError,
)
from tsengine.schema import TableDef
from tsengine.series import Series

__version__ = "0.1.0"


def __getattr__(name: str):
    # serve/connect load pyarrow.flight only when first used
    if name in ("serve", "connect"):
        from tsengine import flight

        return getattr(flight, name)
    raise AttributeError(f"module 'tsengine' has no attribute {name!r}")


__all__ = [
    "ArgumentError",
    "BudgetError",
    "ClosedError",
    "CorruptionError",
    "DuplicateError",
    "Engine",
    "Error",
    "ParseError",
    "SchemaError",
    "Series",
    "TableDef",
    "TableNotFoundError",
    "TimestampError",
    "connect",
    "serve",
]

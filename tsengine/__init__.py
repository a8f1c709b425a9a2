"""tsengine: time-series ingestion for industrial sensor data.

Columnar ring buffers, compressed sealed chunks, windowed KPIs and an Arrow Flight
endpoint, embedded in a Python service. See :class:`Engine`.
"""

from tsengine.engine import Engine
from tsengine.errors import (
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

__all__ = [
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
]

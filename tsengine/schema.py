"""Table definitions: tags, typed fields, ring capacity, duplicate policy, retention."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pyarrow as pa

from tsengine.errors import SchemaError

#: Field type names and their Arrow types.
FIELD_TYPES: dict[str, pa.DataType] = {
    "float64": pa.float64(),
    "int64": pa.int64(),
    "uint64": pa.uint64(),
    "bool": pa.bool_(),
    "string": pa.string(),
}
DUPLICATE_POLICIES = ("last", "first", "keep", "reject")
TIME_TYPE = pa.timestamp("ns", tz="UTC")
TAG_TYPE = pa.dictionary(pa.int32(), pa.string())
#: Points per series ring unless ``create_table`` says otherwise. A quarter of it is
#: sealed at a time, and codecs work best on chunks of 16k points or more.
DEFAULT_RING_CAPACITY = 65536
RESERVED = ("time",)

_NAME = re.compile(r"[^\x00-\x1f]{1,256}")
_DURATION = re.compile(r"(\d+)(ns|us|ms|s|m|h|d|w)")
_DURATION_NS = {
    "ns": 1,
    "us": 10**3,
    "ms": 10**6,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
    "d": 86400 * 10**9,
    "w": 7 * 86400 * 10**9,
}


def parse_retention(value: str | int | None) -> int | None:
    """Retention as int ns: ``None`` keeps everything; ``"30d"``, ``"12h"``, int ns."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        if value <= 0:
            raise SchemaError(f"retention {value!r} must be a positive duration")
        return value
    if isinstance(value, str):
        text = value.replace(" ", "")
        parts = _DURATION.findall(text)
        if parts and "".join(n + u for n, u in parts) == text:
            total = sum(int(n) * _DURATION_NS[u] for n, u in parts)
            if total > 0:
                return total
    raise SchemaError(f"retention {value!r} is not a duration like '30d' or '12h'")


def arrow_field_type(type_name: str) -> pa.DataType:
    """Arrow type of a tsengine field type name."""
    return FIELD_TYPES[type_name]


def field_type_of(arrow_type: pa.DataType) -> str | None:
    """tsengine field type name for an Arrow type, or None if it has none."""
    if pa.types.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
    if pa.types.is_floating(arrow_type):
        return "float64"
    if pa.types.is_signed_integer(arrow_type):
        return "int64"
    if pa.types.is_unsigned_integer(arrow_type):
        return "uint64"
    if pa.types.is_boolean(arrow_type):
        return "bool"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "string"
    return None


@dataclass
class TableDef:
    """Definition of one table (a measurement).

    Parameters
    ----------
    name : str
        Table name.
    tags : list of str
        Tag columns that identify a series, in key order.
    fields : dict of str to str
        Field name to type name (see :data:`FIELD_TYPES`).
    ring_capacity : int
        Hot-tier points per series ring.
    duplicates : str
        Policy for a second point at the same (series, time): ``"last"`` (upsert,
        field by field), ``"first"``, ``"keep"`` or ``"reject"``.
    retention : int or None
        Age in ns after which points are dropped; None keeps them.
    """

    name: str
    tags: list[str] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)
    ring_capacity: int = DEFAULT_RING_CAPACITY
    duplicates: str = "last"
    retention: int | None = None

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`SchemaError` naming the first invalid part."""
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise SchemaError(f"table name {self.name!r} must be 1-256 printable chars")
        seen: set[str] = set()
        for name in [*self.tags, *self.fields]:
            valid = isinstance(name, str) and _NAME.fullmatch(name) is not None
            if not valid or name in RESERVED:
                raise SchemaError(
                    f"column name {name!r} in table {self.name!r} is invalid"
                )
            if name in seen:
                raise SchemaError(
                    f"column {name!r} appears twice in table {self.name!r}"
                )
            seen.add(name)
        for name, type_name in self.fields.items():
            if type_name not in FIELD_TYPES:
                raise SchemaError(
                    f"field {name!r} of table {self.name!r} has type {type_name!r}; "
                    f"expected one of {list(FIELD_TYPES)}"
                )
        if len(self.fields) > 64:
            raise SchemaError(
                f"table {self.name!r} has {len(self.fields)} fields; max 64"
            )
        cap = self.ring_capacity
        if isinstance(cap, bool) or not isinstance(cap, int) or not 1 <= cap <= 2**31:
            raise SchemaError(f"ring_capacity {cap!r} must be an int in [1, 2**31]")
        if self.duplicates not in DUPLICATE_POLICIES:
            raise SchemaError(
                f"duplicates policy {self.duplicates!r} must be one of "
                f"{list(DUPLICATE_POLICIES)}"
            )

    def arrow_schema(self, fields: list[str] | None = None) -> pa.Schema:
        """Schema of a read: ``time``, tag columns, then the chosen fields."""
        names = list(self.fields) if fields is None else fields
        return pa.schema(
            [pa.field("time", TIME_TYPE, nullable=False)]
            + [pa.field(t, TAG_TYPE) for t in self.tags]
            + [pa.field(f, FIELD_TYPES[self.fields[f]]) for f in names]
        )

    def to_dict(self) -> dict:
        """JSON-ready form, as stored in a manifest or sent over Flight."""
        return {
            "name": self.name,
            "tags": list(self.tags),
            "fields": dict(self.fields),
            "ring_capacity": self.ring_capacity,
            "duplicates": self.duplicates,
            "retention": self.retention,
        }

    @classmethod
    def from_dict(cls, data: dict) -> TableDef:
        """Inverse of :meth:`to_dict`; unknown keys are a :class:`SchemaError`."""
        known = {"name", "tags", "fields", "ring_capacity", "duplicates", "retention"}
        extra = set(data) - known
        if extra:
            raise SchemaError(f"unknown table option(s) {sorted(extra)!r}")
        return cls(**data)

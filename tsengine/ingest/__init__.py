"""Ingest: line protocol, CSV and Parquet input as Arrow tables for the engine.

- :func:`parse_lines`: InfluxDB line protocol bytes to one table per measurement.
- :func:`read_csv`: a delimited text file to one table (presets for NAB, SKAB, C-MAPSS).
- :func:`open_source`: any supported file, streamed as ``(table name, table)`` chunks.

Every table has the ingest shape of :mod:`tsengine.ingest.shape`: ``time``
(``timestamp[ns, tz=UTC]``), tag columns (:func:`tag_columns`), then fields.
"""

from tsengine.ingest.csvfile import read_csv
from tsengine.ingest.lineprotocol import ParsedLines, Rejected, parse_lines
from tsengine.ingest.shape import table_name, tag_columns
from tsengine.ingest.sources import Source, open_source

__all__ = [
    "ParsedLines",
    "Rejected",
    "Source",
    "open_source",
    "parse_lines",
    "read_csv",
    "table_name",
    "tag_columns",
]

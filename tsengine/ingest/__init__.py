"""Ingest: line protocol, CSV and Parquet input as Arrow tables for the engine."""

from tsengine.ingest.lineprotocol import ParsedLines, Rejected, parse_lines

__all__ = ["ParsedLines", "Rejected", "parse_lines"]

"""What every extractor shares: the chunk it yields, the file statistics it keeps, the schema of
a record rejected whole, and the protocol an extractor follows."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

import polars as pl

CHUNK_BYTES = 16 * 1024 * 1024  # a chunk is cut at a record boundary after this many bytes


def unique_column_names(names: list[str]) -> tuple[list[str], list[str]]:
    """Header names made unique (a repeated name's later columns get `__2`, `__3` …), and the
    names that repeated: both the mapping and the column accounting need one name per column."""
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name}__{seen[name]}")
    return unique, sorted(n for n, c in seen.items() if c > 1)

@dataclass
class FileStats:
    """What the extractor saw in one file, counted at the byte level."""
    path: str
    sha256: str = ""
    size: int = 0
    header: list[str] = field(default_factory=list)
    skipped_rows: int = 0
    blank_records: int = 0
    padded_records: int = 0  # fixed-width records shorter than the layout, padded (short_records: pad)
    records: int = 0  # source records: data records after metadata and header, blank ones excluded
    rejected: int = 0
    invalid_encoding: int = 0
    findings: list[str] = field(default_factory=list)  # file-level findings (e.g. a trailer that disagrees)


@dataclass
class Chunk:
    frame: pl.DataFrame  # header columns (all String) + _line, _offset, _length
    rejects: pl.DataFrame  # _line, _offset, _length, reason_code, message, raw_bytes


REJECT_SCHEMA = {"_line": pl.Int64, "_offset": pl.Int64, "_length": pl.Int64, "reason_code": pl.String,
                 "item": pl.String, "message": pl.String, "raw_bytes": pl.Binary}


class Extractor(Protocol):
    """Reads one file: ``read_header()`` (the column or field names; every file-level problem is
    an IkouError), ``chunks()`` (text columns plus ``_line``, ``_offset``, ``_length`` and, where
    the raw record cannot be re-read by offset, ``_raw``; and the records rejected whole) and
    ``stats`` (what it counted)."""
    stats: FileStats
    duplicate_columns: list[str]

    def read_header(self) -> list[str]: ...

    def chunks(self) -> Iterator[Chunk]: ...

"""The extractors by source format. Each reads one file: ``read_header()`` (the column or field
names; every file-level problem is an IkouError), ``chunks()`` (text columns plus ``_line``,
``_offset``, ``_length`` and, where the raw record cannot be re-read by offset, ``_raw``; and the
records rejected whole) and ``stats`` (what it counted)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from ikou.mapping import Source
from ikou.pipelines.csv_extract import Chunk, CsvExtractor, FileStats
from ikou.pipelines.fixed_extract import FixedExtractor
from ikou.pipelines.xlsx_extract import XlsxExtractor
from ikou.pipelines.xml_extract import XmlExtractor


class Extractor(Protocol):
    stats: FileStats
    duplicate_columns: list[str]

    def read_header(self) -> list[str]: ...

    def chunks(self): ...  # Iterator[Chunk]


EXTRACTORS = {"csv": CsvExtractor, "fixed": FixedExtractor, "xml": XmlExtractor, "xlsx": XlsxExtractor}
# formats whose records carry their raw form (``_raw``) as UTF-8, not re-read by byte offset
RAW_UTF8 = {"xml", "xlsx"}


def open_extractor(path: Path, display: str, source: Source, chunk_bytes: int) -> Extractor:
    return EXTRACTORS[source.format](path, display, source, chunk_bytes)


__all__ = ["Chunk", "EXTRACTORS", "Extractor", "RAW_UTF8", "open_extractor"]

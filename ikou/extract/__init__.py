"""Extractors: one per source format (csv_file, fixed_width, xml_file, xlsx_file), each following
the ``Extractor`` protocol of ``types``; ``open_extractor`` picks one for a mapping's source."""

from __future__ import annotations

from pathlib import Path

from ikou.extract.csv_file import CsvExtractor
from ikou.extract.fixed_width import FixedExtractor
from ikou.extract.types import CHUNK_BYTES, REJECT_SCHEMA, Chunk, Extractor, FileStats
from ikou.extract.xlsx_file import XlsxExtractor
from ikou.extract.xml_file import XmlExtractor
from ikou.mapping import Source

EXTRACTORS = {"csv": CsvExtractor, "fixed": FixedExtractor, "xml": XmlExtractor, "xlsx": XlsxExtractor}
# formats whose records carry their raw form (``_raw``) as UTF-8, not re-read by byte offset
RAW_UTF8 = {"xml", "xlsx"}


def open_extractor(path: Path, display: str, source: Source, chunk_bytes: int) -> Extractor:
    return EXTRACTORS[source.format](path, display, source, chunk_bytes)


__all__ = ["CHUNK_BYTES", "Chunk", "EXTRACTORS", "Extractor", "FileStats", "RAW_UTF8", "REJECT_SCHEMA",
           "open_extractor"]

"""Excel workbook extractor (``format: xlsx``; .xlsx, .xlsm, .xls and .ods through python-calamine,
a Rust reader with no dependencies of its own).

Same interface as the other extractors. A sheet (by name, or by 1-based position; default the
first) is read row by row; ``skip_rows`` rows come before the header row (or none with ``header:
false``: columns are then named by position, 1, 2, …). Every cell becomes text, the way the cell
holds it, never the way Excel formats it: a number as its shortest exact decimal (12345, 0.1,
34.34400451572152; Excel stores numbers as doubles, so an ID typed as a number has already lost
its leading zeros), a date as YYYY-MM-DD (a date-time as YYYY-MM-DDTHH:MM:SS), TRUE/FALSE.
``_line`` is the sheet's row number as Excel shows it, ``_offset`` the row's index from the
sheet's first row, and ``_raw`` the row's cells joined by tabs, so that a rejected record keeps
its raw form. Blank rows are not records (``blank_records``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl

from ikou.errors import IkouError
from ikou.extract.types import REJECT_SCHEMA, Chunk, FileStats, unique_column_names
from ikou.i18n import tr
from ikou.mapping import Source

ROWS_PER_CHUNK = 50_000


def cell_text(value: Any) -> str | None:
    """A cell as text: exact, never as Excel would format it."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 2 ** 53 else repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA (the sheet's column names)."""
    out = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        out = chr(ord("A") + rem) + out
    return out


class XlsxExtractor:
    def __init__(self, path: Path, display_path: str, source: Source, chunk_bytes: int):
        self.path, self.display, self.source = path, display_path, source
        self.stats = FileStats(path=display_path)
        self.duplicate_columns: list[str] = []
        self._start_row = self._start_col = 0

    def _sheet(self):
        from python_calamine import CalamineWorkbook

        try:
            book = CalamineWorkbook.from_path(str(self.path))
        except Exception as exc:  # noqa: BLE001 - calamine raises its own error types for unreadable files
            raise IkouError(tr("{display}: not a readable Excel workbook ({__name__}: {exc})",
                               display=self.display, __name__=type(exc).__name__, exc=exc),
                            hint=tr("format: xlsx reads .xlsx, .xlsm, .xls and .ods files; a CSV export needs "
                                    "format: csv")) from exc
        names = book.sheet_names
        sheet = self.source.sheet
        if sheet is None:
            chosen = names[0] if names else None
        elif isinstance(sheet, int):
            chosen = names[sheet - 1] if 1 <= sheet <= len(names) else None
        else:
            chosen = sheet if sheet in names else None
        if chosen is None:
            raise IkouError(tr("{display}: the workbook has no sheet {sheet!r}", display=self.display, sheet=sheet),
                            hint=tr("its sheets: {value} (sheet: a name, or a position from 1)",
                                    value=', '.join((repr(n) for n in names)) or 'none'))
        found = book.get_sheet_by_name(chosen)
        self._start_row, self._start_col = found.start if found.start else (0, 0)
        return found

    def read_header(self) -> list[str]:
        if self.path.stat().st_size == 0:
            raise IkouError(tr("{display}: the file is empty", display=self.display))
        sheet = self._sheet()
        need = self.source.skip_rows + (1 if self.source.header else 0)
        head = []
        for row in sheet.iter_rows():
            if len(head) >= need:
                break
            head.append(row)
        if len(head) < need:
            raise IkouError(tr("{display}: the sheet ends before its header (expected {skip_rows} row(s) before "
                               "it)",
                               display=self.display,
                               skip_rows=self.source.skip_rows), hint=tr("check skip_rows and sheet in the mapping"))
        # every column of the sheet's used range is a column, named or not: a value in a column
        # without a header cell is data the mapping must account for, under "(column X)"
        width = sheet.width
        if not self.source.header:
            self.stats.header = [str(i + 1) for i in range(width)]
            return self.stats.header
        cells = list(head[need - 1]) + [None] * (width - len(head[need - 1]))
        names = [(cell_text(c) or "").strip(" \u3000\t\r\n") or f"(column {column_letter(self._start_col + i)})"
                 for i, c in enumerate(cells)]
        self.stats.header, self.duplicate_columns = unique_column_names(names)
        return self.stats.header

    def chunks(self) -> Iterator[Chunk]:
        header = self.stats.header or self.read_header()
        width = len(header)
        to_skip = self.source.skip_rows + (1 if self.source.header else 0) + self.source.skip_after_header
        rows: list[list[str | None]] = []
        lines: list[int] = []
        offsets: list[int] = []
        raws: list[bytes] = []
        rejects: list[tuple[int, int, str, str, bytes]] = []
        for index, row in enumerate(self._sheet().iter_rows()):
            if index < to_skip:
                self.stats.skipped_rows += 1
                continue
            cells = [cell_text(c) for c in row]
            if all(c is None for c in cells):
                self.stats.blank_records += 1
                continue
            self.stats.records += 1
            line = self._start_row + index + 1
            raw = "\t".join(c or "" for c in cells).encode("utf-8")
            beyond = [i for i, c in enumerate(cells) if i >= width and c is not None]
            if beyond:  # not seen with calamine (rows span the used range); kept as a guard
                rejects.append((line, index, "field_count",
                                f"row has a value in column {column_letter(self._start_col + beyond[0])}, beyond "
                                f"the sheet's {width} columns", raw))
            else:
                rows.append(cells[:width] + [None] * (width - len(cells)))
                lines.append(line)
                offsets.append(index)
                raws.append(raw)
            if len(rows) + len(rejects) >= ROWS_PER_CHUNK:
                yield self._chunk(header, rows, lines, offsets, raws, rejects)
                rows, lines, offsets, raws, rejects = [], [], [], [], []
        if rows or rejects:
            yield self._chunk(header, rows, lines, offsets, raws, rejects)
        digest = hashlib.sha256()
        with open(self.path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
                self.stats.size += len(block)
        self.stats.sha256 = digest.hexdigest()

    def _chunk(self, header: list[str], rows: list, lines: list[int], offsets: list[int], raws: list[bytes],
               rejects: list) -> Chunk:
        frame = (pl.DataFrame(rows, schema={n: pl.String for n in header}, orient="row") if rows
                 else pl.DataFrame(schema={n: pl.String for n in header}))
        frame = frame.with_columns(pl.Series("_line", lines, dtype=pl.Int64),
                                   pl.Series("_offset", offsets, dtype=pl.Int64),
                                   pl.Series("_length", [len(r) for r in raws], dtype=pl.Int64),
                                   pl.Series("_raw", raws, dtype=pl.Binary))
        rej = pl.DataFrame({"_line": [r[0] for r in rejects], "_offset": [r[1] for r in rejects],
                            "_length": [len(r[4]) for r in rejects], "reason_code": [r[2] for r in rejects],
                            "item": [None] * len(rejects), "message": [r[3] for r in rejects],
                            "raw_bytes": [r[4] for r in rejects]}, schema=REJECT_SCHEMA)
        self.stats.rejected += rej.height
        return Chunk(frame=frame, rejects=rej)

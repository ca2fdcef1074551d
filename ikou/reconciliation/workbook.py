"""The report as an Excel workbook for the people who check it (ikou report --format xlsx).

A summary sheet (概要) first — the overall result and one row per municipality and 業務 — then
金額照合 and the rejects, then every other detail table. Sheet names and column headers are
Japanese (catalog/report_tables.yaml) with the English ids as a second header row; the two header
rows are frozen and filtered. Counts and yen are numbers (Excel sums them), never text; a value
Excel could not hold exactly (an integer beyond 2^53) is written as text rather than rounded.
Text is never taken for a formula, a number or a link, whatever a raw record holds.

Rows are written in order with xlsxwriter's constant-memory mode, so a sheet of a million rejects
does not hold the workbook in memory; the file's properties are fixed, so that a rerun over the
same OUT writes the same bytes.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from importlib import resources
from pathlib import Path

import polars as pl
import yaml

from ikou.i18n import tr
from ikou.reconciliation.model import ReconciliationReport
from ikou.textwidth import display_width

XLSX_MAX_ROWS = 1_048_574  # Excel's sheet limit, less the two header rows
EXACT = 2 ** 53  # integers beyond this are not exact in Excel's doubles
FIRST = ("money_totals", "rejects")  # after the summary: what a reviewer checks first
PLAIN_INTEGERS = {"source_line", "byte_offset", "first_line"}  # positions, not amounts: no separators
AGREEMENT = {"reconciled", "money_reconciled"}  # booleans shown as 一致 / 不一致
SUMMARY_COLUMNS = ("municipality_code", "municipality_name", "layout", "run_id", "finished_at", "source_records",
                   "landed", "rejected", "merged", "excluded", "alerts", "unmapped_codes", "gaiji_unmapped",
                   "reconciled", "money_reconciled")


@cache
def catalogue() -> dict:
    """catalog/report_tables.yaml: sheet names and Japanese column headers."""
    text = resources.files("ikou.catalog").joinpath("report_tables.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def sheet_name(table: str) -> str:
    return catalogue()["tables"].get(table, {}).get("sheet", table)


def header_ja(table: str, column: str) -> str:
    own = catalogue()["tables"].get(table, {}).get("columns") or {}
    return own.get(column) or catalogue()["columns"].get(column, column)


def write_xlsx(report: ReconciliationReport, tables: dict[str, pl.DataFrame], path: Path) -> list[str]:
    """The summary sheet and one sheet per table. Returns notes (sheets cut at Excel's row limit)."""
    import xlsxwriter

    notes: list[str] = []
    path.parent.mkdir(parents=True, exist_ok=True)
    options = {"constant_memory": True, "strings_to_formulas": False, "strings_to_numbers": False,
               "strings_to_urls": False}
    with xlsxwriter.Workbook(str(path), options) as book:
        stamp = max((m.finished_at for m in report.municipalities), default="") or "2000-01-01T00:00:00"
        book.set_properties({"title": catalogue()["summary"]["title"], "author": "ikou",
                             "created": dt.datetime.fromisoformat(stamp)})
        styles = _Styles(book)
        _summary_sheet(book, styles, report)
        for name in sorted(tables, key=lambda t: (FIRST.index(t) if t in FIRST else len(FIRST))):
            frame = tables[name]
            if frame.height > XLSX_MAX_ROWS:
                notes.append(tr("sheet {name}: {rows} rows, cut at Excel's limit of {limit}; the CSV rendering "
                                "(--format csv) has them all",
                                name=sheet_name(name), rows=f"{frame.height:,}", limit=f"{XLSX_MAX_ROWS:,}"))
                frame = frame.head(XLSX_MAX_ROWS)
            _table_sheet(book, styles, name, frame)
    return notes


class _Styles:
    def __init__(self, book) -> None:
        self.head = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True,
                                     "valign": "top"})
        self.id = book.add_format({"font_color": "#595959", "italic": True, "bg_color": "#F2F2F2", "border": 1})
        self.count = book.add_format({"num_format": "#,##0"})
        self.ng = book.add_format({"font_color": "#C00000", "bold": True})
        self.title = book.add_format({"bold": True, "font_size": 14})
        self.bold = book.add_format({"bold": True})


def _cell(sheet, styles: _Styles, row: int, col: int, column: str, value) -> None:
    if value is None:
        return
    if isinstance(value, bool):
        if column in AGREEMENT:
            sheet.write_string(row, col, "一致" if value else "不一致", None if value else styles.ng)
        else:
            sheet.write_string(row, col, "はい" if value else "いいえ")
    elif isinstance(value, int):
        if abs(value) >= EXACT:
            sheet.write_string(row, col, str(value))
        else:
            sheet.write_number(row, col, value, None if column in PLAIN_INTEGERS else styles.count)
    elif isinstance(value, float):
        sheet.write_number(row, col, value)
    else:
        sheet.write_string(row, col, str(value))


def _headers(sheet, styles: _Styles, table: str, columns: list[str], row: int) -> list[int]:
    """The Japanese header row and the English id row; returns each column's starting width."""
    names = [header_ja(table, column) for column in columns]
    for col, ja in enumerate(names):  # row by row: constant-memory mode flushes a row once the next begins
        sheet.write_string(row, col, ja, styles.head)
    for col, column in enumerate(columns):
        sheet.write_string(row + 1, col, column, styles.id)
    return [max(display_width(ja), len(column)) + 2 for ja, column in zip(names, columns)]


def _fit(sheet, widths: list[int]) -> None:
    for col, width in enumerate(widths):
        sheet.set_column(col, col, min(max(width, 6), 60))


def _table_sheet(book, styles: _Styles, table: str, frame: pl.DataFrame) -> None:
    sheet = book.add_worksheet(sheet_name(table))
    columns = frame.columns
    widths = _headers(sheet, styles, table, columns, 0)
    for r, values in enumerate(frame.iter_rows(), start=2):
        for c, value in enumerate(values):
            _cell(sheet, styles, r, c, columns[c], value)
            if r < 202 and value is not None:  # widths from the first rows: enough to read, cheap
                widths[c] = max(widths[c], display_width(str(value)) + 2)
    sheet.freeze_panes(2, 0)
    if columns:
        sheet.autofilter(1, 0, 1 + frame.height, len(columns) - 1)
    _fit(sheet, widths)


def _summary_sheet(book, styles: _Styles, report: ReconciliationReport) -> None:
    """概要: the overall result, then one row per run (municipality and 業務) and the totals."""
    sheet = book.add_worksheet(catalogue()["summary"]["sheet"])
    sheet.write_string(0, 0, catalogue()["summary"]["title"], styles.title)
    overall = [("出力先", "out", report.out), ("ikou", "tool_version", report.tool_version),
               (header_ja("summary", "reconciled"), "reconciled", report.reconciled),
               (header_ja("summary", "money_reconciled"), "money_reconciled", report.money_reconciled)]
    if report.group:
        overall.append(("自治体クラウド", "group", f"{report.group.get('name')} ({report.group.get('group')})"))
    for r, (ja, column, value) in enumerate(overall, start=1):
        sheet.write_string(r, 0, ja, styles.bold)
        sheet.write_string(r, 1, column, styles.id)
        _cell(sheet, styles, r, 2, column, value)
    top = len(overall) + 2
    widths = _headers(sheet, styles, "summary", list(SUMMARY_COLUMNS), top)
    rows = [{"municipality_code": m.municipality_code, "municipality_name": m.municipality_name, "layout": m.layout,
             "run_id": m.run_id, "finished_at": m.finished_at, **m.totals, "alerts": sum(a.records for a in m.alerts),
             "unmapped_codes": m.unmapped_codes, "gaiji_unmapped": m.gaiji_unmapped, "reconciled": m.reconciled,
             "money_reconciled": m.money_reconciled} for m in report.municipalities]
    rows.append({"municipality_code": "合計", **report.totals, "reconciled": report.reconciled,
                 "money_reconciled": report.money_reconciled})
    for r, row in enumerate(rows, start=top + 2):
        for c, column in enumerate(SUMMARY_COLUMNS):
            value = row.get(column)
            _cell(sheet, styles, r, c, column, value)
            if value is not None:
                widths[c] = max(widths[c], display_width(str(value)) + 2)
    widths[0] = max(widths[0], *(display_width(ja) + 2 for ja, _, _ in overall))
    sheet.freeze_panes(top + 2, 0)
    _fit(sheet, widths)

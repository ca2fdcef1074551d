"""Excel workbooks as sources (format: xlsx): workbooks written here by xlsxwriter (another
library than the reader), cells read as exact text, sheets by name and position, rows counted as
the sheet numbers them; and `inspect` telling a workbook or a zip archive from a CSV."""

from __future__ import annotations

import datetime as dt
import json
import zipfile

import pytest
import xlsxwriter

from ikou.errors import IkouError
from ikou.extract.xlsx_file import XlsxExtractor, cell_text, column_letter
from ikou.mapping import Source

from .conftest import REALDATA, needs_realdata, query, run_cli


def _book(path, sheets: dict[str, list[list]]):
    wb = xlsxwriter.Workbook(str(path))
    day = wb.add_format({"num_format": "yyyy-mm-dd"})  # a date is a number formatted as one
    for name, rows in sheets.items():
        ws = wb.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if isinstance(value, dt.date):
                    ws.write_datetime(r, c, value, day)
                elif value is not None:
                    ws.write(r, c, value)
    wb.close()
    return path


@pytest.mark.parametrize("value, text", [
    (12345.0, "12345"), (0.1, "0.1"), (34.34400451572152, "34.34400451572152"), (-2.5, "-2.5"),
    (True, "TRUE"), ("", None), (None, None), ("山田", "山田"),
    (dt.date(2026, 2, 1), "2026-02-01"), (dt.datetime(2026, 2, 1), "2026-02-01"),
    (dt.datetime(2026, 2, 1, 13, 45), "2026-02-01T13:45:00"),
])
def test_cells_become_exact_text(value, text):
    assert cell_text(value) == text


def test_column_letters():
    assert [column_letter(i) for i in (0, 25, 26, 701, 702)] == ["A", "Z", "AA", "ZZ", "AAA"]


def _source(**kw) -> Source:
    return Source(name="s", table="t", files="*.xlsx", format="xlsx", **kw)


def _read(path, **kw):
    ex = XlsxExtractor(path, path.name, _source(**kw), 0)
    header = ex.read_header()
    chunks = list(ex.chunks())
    return ex, header, chunks


def test_a_sheet_by_name_or_position_with_rows_numbered_as_excel_does(tmp_path):
    path = _book(tmp_path / "b.xlsx", {
        "表紙": [["住民一覧"], ["作成日", "2026-11-01"]],
        "データ": [["作成日 令和8年11月1日"], ["宛名番号", "氏名", "番号"], ["0001", "山田", 1.0], [], ["0002", "佐藤", 2.0]],
    })
    for sheet in ("データ", 2):
        ex, header, chunks = _read(path, sheet=sheet, skip_rows=1)
        assert header == ["宛名番号", "氏名", "番号"]
        frame = chunks[0].frame
        assert frame["宛名番号"].to_list() == ["0001", "0002"] and frame["番号"].to_list() == ["1", "2"]
        assert frame["_line"].to_list() == [3, 5]  # the blank row 4 is not a record
        assert (ex.stats.records, ex.stats.blank_records, ex.stats.skipped_rows) == (2, 1, 2)
        assert frame["_raw"][0] == "0001\t山田\t1".encode()
    with pytest.raises(IkouError, match="no sheet '住民'") as exc:
        XlsxExtractor(path, "b.xlsx", _source(sheet="住民"), 0).read_header()
    assert "'表紙', 'データ'" in exc.value.hint


def test_a_value_in_a_column_without_a_header_is_a_column_of_its_own(tmp_path):
    path = _book(tmp_path / "b.xlsx", {"S": [["a", "b"], ["1", "2"], ["3", "4", "stray"]]})
    _, header, chunks = _read(path)
    assert header == ["a", "b", "(column C)"]
    assert chunks[0].frame["(column C)"].to_list() == [None, "stray"]  # the mapping must account for it


def test_a_workbook_without_a_header_names_columns_by_position(tmp_path):
    path = _book(tmp_path / "b.xlsx", {"S": [["1", "山田"], ["2", "佐藤"]]})
    _, header, chunks = _read(path, header=False)
    assert header == ["1", "2"] and chunks[0].frame["2"].to_list() == ["山田", "佐藤"]


def test_a_workbook_declared_as_csv_is_told_to_be_read_as_xlsx(tmp_path):
    from ikou.extract.csv_file import CsvExtractor

    path = _book(tmp_path / "JUMIN.csv", {"S": [["a"], ["1"]]})
    with pytest.raises(IkouError, match="not a CSV file: an Excel workbook") as exc:
        CsvExtractor(path, path.name, Source(name="s", table="t", files="*"), 1 << 20).read_header()
    assert "format: xlsx" in exc.value.hint


def test_a_workbook_migrates_end_to_end(tmp_path):
    layout = tmp_path / "tiny.yaml"
    layout.write_text("layout: tiny\ntables:\n  tiny:\n    items:\n"
                      "      - {id: municipality_code, name_ja: 市区町村コード, type: string, required: true}\n"
                      "      - {id: amount, name_ja: 額, type: decimal, precision: 8, scale: 2}\n"
                      "      - {id: day, name_ja: 日, type: date}\n", encoding="utf-8")
    (tmp_path / "in").mkdir()
    _book(tmp_path / "in" / "x.xlsx", {"S": [["額", "日"], [12.5, dt.date(2026, 4, 1)], [0.125, "令和8年4月2日"]]})
    mapping = tmp_path / "m.yaml"
    mapping.write_text('municipality: {code: "991015"}\nlayout: tiny.yaml\nsources:\n'
                       '  - {name: s, table: tiny, files: "*.xlsx", format: xlsx,\n'
                       '     items: {municipality_code: {value: "991015"}, amount: 額, day: 日}}\n', encoding="utf-8")
    result = run_cli("migrate", "--mapping", mapping, "--input", tmp_path / "in", "--out", tmp_path / "out", "--json")
    summary = json.loads(result.output)
    assert summary["totals"] == {"source_records": 2, "landed": 1, "rejected": 1, "merged": 0, "excluded": 0}
    assert summary["rejects_by_reason"] == {"invalid_decimal": 1}  # 0.125 has three decimals, scale 2
    got = query(tmp_path / "out", "select amount::varchar as a, day from tiny").row(0)
    assert got == ("12.50", dt.date(2026, 4, 1))
    raw = query(tmp_path / "out", "select raw_record from rejects")["raw_record"][0]
    assert raw == "0.125\t令和8年4月2日"


def test_inspect_lists_a_workbooks_sheets_and_drafts_an_xlsx_source(tmp_path):
    path = _book(tmp_path / "b.xlsx", {"一覧": [["宛名番号", "氏名"], ["0001", "山田"]], "メモ": [["x"]]})
    result = run_cli("inspect", path, "--draft-mapping", tmp_path / "d.yaml")
    assert result.exit_code == 0, result.output
    assert "a workbook of 2 sheet(s)" in result.output and "sheet '一覧': 2 rows × 2 columns" in result.output
    draft = (tmp_path / "d.yaml").read_text(encoding="utf-8")
    assert "format: xlsx" in draft and 'sheet: "一覧"' in draft and "atena_number: \"宛名番号\"" in draft


def test_inspect_looks_inside_a_zip_archive(tmp_path):
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("JUMIN.CSV", "宛名番号,氏名\r\n0001,山田\r\n".encode("cp932"))
    result = run_cli("inspect", path)
    assert result.exit_code == 0, result.output
    assert "a zip archive of 1 file(s)" in result.output and "JUMIN.CSV" in result.output
    assert "encoding  cp932" in result.output and "unzip it" in result.output


@needs_realdata
def test_inspect_on_real_containers():
    takamatsu = run_cli("inspect", REALDATA / "opendata_372013_takamatsu" / "data__evacuation_space__data.xlsx")
    assert takamatsu.exit_code == 0 and "sheet 'Sheet1': 196 rows × 19 columns" in takamatsu.output
    kenall = run_cli("inspect", REALDATA / "japanpost_kenall" / "ken_all.zip")
    assert kenall.exit_code == 0 and "KEN_ALL.CSV" in kenall.output and "encoding  cp932" in kenall.output

"""The report's xlsx as a person opens it: the summary sheet first, Japanese sheet names and
headers over the English ids, counts and yen stored as numbers, frozen headers and filters, a
金額照合 sheet that equals the JSON, and text that Excel never runs as a formula. Read back with
openpyxl (a reader ikou does not write with)."""

from __future__ import annotations

import json

import openpyxl
import pytest

from ikou.reconciliation.model import build_report
from ikou.reconciliation.tables import detail_tables
from ikou.reconciliation.workbook import catalogue, header_ja, sheet_name, write_xlsx
from tests.conftest import ROOT, run_cli


@pytest.fixture(scope="module")
def group_out(tmp_path_factory):
    """A group run (resident and tax per member): money reconciliation has rows."""
    from ikou.fixtures.group import generate_group

    root = tmp_path_factory.mktemp("group")
    generate_group(root / "in", scale=0.1)
    result = run_cli("migrate-group", ROOT / "mappings" / "sakura_cloud" / "group.yaml", "--input-root", root / "in",
                     "--out", root / "out")
    assert result.exit_code in (0, 1), result.output
    return root / "out"


@pytest.fixture(scope="module")
def book(group_out, tmp_path_factory):
    path = tmp_path_factory.mktemp("xlsx") / "r.xlsx"
    assert run_cli("report", group_out, "--format", "xlsx", "--output", path).exit_code == 0
    return openpyxl.load_workbook(path)


def rows(sheet) -> tuple[tuple, tuple, list[tuple]]:
    values = list(sheet.iter_rows(values_only=True))
    return values[0], values[1], values[2:]


def test_summary_sheet_comes_first_with_every_run_and_the_totals(book, group_out):
    report = json.loads(run_cli("report", group_out, "--format", "json").output)
    first = book.worksheets[0]
    assert first.title == catalogue()["summary"]["sheet"] == "概要"
    values = list(first.iter_rows(values_only=True))
    ids = next(i for i, r in enumerate(values) if r[0] == "municipality_code")
    assert values[ids - 1][0] == "団体コード"
    body = values[ids + 1:]
    header = values[ids]
    assert [(r[0], r[2]) for r in body[:-1]] == [(m["municipality_code"], m["layout"])
                                                 for m in report["municipalities"]]
    total = body[-1]
    assert total[0] == "合計"
    for key in ("source_records", "landed", "rejected", "merged"):
        assert total[header.index(key)] == report["totals"][key]
        assert isinstance(total[header.index(key)], int)
    assert first.freeze_panes == f"A{ids + 2}"


def test_sheets_have_japanese_headers_over_the_ids_frozen_and_filtered(book, group_out):
    tables = detail_tables(group_out, build_report(group_out))
    assert book.sheetnames[1:3] == [sheet_name("money_totals"), sheet_name("rejects")] == ["金額照合", "リジェクト"]
    for name, frame in tables.items():
        sheet = book[sheet_name(name)]
        ja, ids, body = rows(sheet)
        assert list(ids) == frame.columns, name
        assert list(ja) == [header_ja(name, c) for c in frame.columns]
        assert sheet.freeze_panes == "A3" and sheet.auto_filter.ref.startswith("A2:"), name
        assert len(body) == frame.height, name


def test_every_table_and_column_has_a_catalogue_entry(group_out, migrated):
    seen = set()
    for out in (group_out, migrated[0]):
        for name, frame in detail_tables(out, build_report(out)).items():
            assert name in catalogue()["tables"], name
            seen |= {(name, c) for c in frame.columns}
    missing = sorted(f"{t}.{c}" for t, c in seen if header_ja(t, c) == c)
    assert not missing, missing


def test_money_is_stored_as_numbers_and_equals_the_json(book, group_out):
    report = json.loads(run_cli("report", group_out, "--format", "json").output)
    _, ids, body = rows(book[sheet_name("money_totals")])
    expected = [(m["municipality_code"], t["item"], t["source"], t["landed"], t["rejected"], t["merged"])
                for m in report["municipalities"] for t in m["money_totals"]]
    got = [tuple(r[ids.index(k)] for k in ("municipality_code", "item", "source", "landed", "rejected", "merged"))
           for r in body]
    assert got == expected and len(got) > 10
    assert all(isinstance(v, int) for r in got for v in r[2:])
    assert {r[ids.index("reconciled")] for r in body} <= {"一致", "不一致"}
    _, ids, body = rows(book[sheet_name("money_sums")])
    sums = [r[ids.index("sum_yen")] for r in body]
    assert sums and all(isinstance(v, int) for v in sums)
    assert sums == [int(s["total"]) for m in report["municipalities"] for s in m["money_sums"]]


def test_rejects_sheet_says_why_in_japanese_and_masks_raw_records(book):
    _, ids, body = rows(book[sheet_name("rejects")])
    reason_ja = ids.index("reason_ja")
    assert body and all(r[reason_ja] for r in body)
    assert any("チェックデジット" in r[reason_ja] for r in body)
    raw = ids.index("raw_record")
    assert any("********" in (r[raw] or "") for r in body)
    assert all(isinstance(r[ids.index("source_line")], int) for r in body if r[ids.index("source_line")] is not None)


def test_text_that_looks_like_a_formula_stays_text(tmp_path, migrated):
    """A raw record may hold anything: '=HYPERLINK(…)' in a cell must never become a formula."""
    import polars as pl

    out = migrated[0]
    report = build_report(out)
    hostile = pl.DataFrame({"municipality_code": ["991015"], "message": ['=HYPERLINK("http://x","y")'],
                            "raw_record": ["+1+1"], "source_line": [3]})
    path = tmp_path / "r.xlsx"
    write_xlsx(report, {"rejects": hostile}, path)
    sheet = openpyxl.load_workbook(path)[sheet_name("rejects")]
    cells = {c.value: c.data_type for r in sheet.iter_rows(min_row=3) for c in r}
    assert cells['=HYPERLINK("http://x","y")'] == "s" and cells["+1+1"] == "s" and cells[3] == "n"


def test_a_rerun_writes_the_same_bytes(group_out, tmp_path):
    for name in ("a.xlsx", "b.xlsx"):
        assert run_cli("report", group_out, "--format", "xlsx", "--output", tmp_path / name).exit_code == 0
    assert (tmp_path / "a.xlsx").read_bytes() == (tmp_path / "b.xlsx").read_bytes()

"""ikou report: the reconciliation report object, its renderings (golden files for JSON and text,
regenerated with IKOU_REGENERATE_GOLDEN=1), the detail tables, masking, and the HTML in a
headless Chromium (tests/test_report_browser.py)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import duckdb
import openpyxl
import polars as pl
import pytest

from ikou.reconciliation.model import build_report
from ikou.reconciliation.workbook import sheet_name
from tests.conftest import MAPPING, ROOT, query, run_cli

GOLDEN = ROOT / "tests" / "golden"
REGENERATE = os.environ.get("IKOU_REGENERATE_GOLDEN") == "1"


def normalise(text: str, out: Path) -> str:
    """What changes from run to run (run ids, times, paths, the mapping's hash) as placeholders."""
    text = re.sub(r"\d{8}T\d{12}Z-\d{6}-[0-9a-f]{8}", "<run_id>", text)
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", "<finished_at>", text)
    text = re.sub(r"\b[0-9a-f]{64}\b", "<sha256>", text).replace(str(MAPPING), "<mapping>")
    text = re.sub(r"sha256 [0-9a-f]{16}…", "sha256 <sha256>", text)
    return text.replace(out.name, "<out>")


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if REGENERATE or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        if not REGENERATE:
            pytest.fail(f"golden file {path} was missing and has been written: check it and commit it")
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from its golden file (IKOU_REGENERATE_GOLDEN=1)"


def test_json_rendering_matches_golden_file(migrated):
    out, _ = migrated
    result = run_cli("report", out, "--format", "json")
    assert result.exit_code == 0, result.output
    check_golden("report.json", normalise(result.output, out))


def test_text_rendering_matches_golden_file(migrated):
    out, _ = migrated
    result = run_cli("report", out)
    assert result.exit_code == 0, result.output
    check_golden("report.txt", normalise(result.output, out))


def test_report_counts_equal_the_run_and_the_data(migrated, export_dir):
    """The numbers are the run's, counted back from the tables, and the planted defects'."""
    out, _ = migrated
    report = json.loads(run_cli("report", out, "--format", "json").output)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    (m,) = report["municipalities"]
    assert m["totals"] == summary["totals"] and report["reconciled"] and m["run_id"] == summary["run_id"]
    assert {r["code"]: 0 for r in m["rejects"]}.keys() == summary["rejects_by_reason"].keys()
    by_reason: dict[str, int] = {}
    for r in m["rejects"]:
        by_reason[r["code"]] = by_reason.get(r["code"], 0) + r["records"]
    assert by_reason == summary["rejects_by_reason"]
    assert sum(a["records"] for a in m["alerts"]) == summary["alerts"]["total"]
    expected = pl.read_csv(export_dir / "expected.csv", infer_schema=False)
    assert sum(r["records"] for r in m["rejects"]) == expected.filter(pl.col("fate") == "rejected").height
    # coverage: the planted unknown codes, with their records
    unmapped = {(c["item"], u["code"]): u["records"] for c in m["coverage"] for u in c["unmapped_codes"]}
    assert unmapped == {("relationship_code", "77"): 3, ("resident_status", "5"): 3}
    # hash totals recomputed here from the landed Parquet
    landed = pl.read_parquet(out / "parquet" / "resident" / "**" / "*.parquet")
    for h in m["hash_totals"]:
        values = landed[h["item"]].cast(pl.String).drop_nulls()
        digits = values.filter(values.str.contains("^[0-9]+$"))
        assert (h["non_null"], h["distinct"]) == (values.len(), values.n_unique()), h["item"]
        assert int(h["digit_sum"]) == sum(int(v) for v in digits.to_list()), h["item"]
    assert "individual_number" not in {h["item"] for h in m["hash_totals"]}  # never summed


def test_no_individual_number_leaves_in_any_rendering(migrated, tmp_path):
    out, _ = migrated
    numbers = set(query(out, "select individual_number from resident where individual_number is not null")
                  ["individual_number"].to_list())
    raw = query(out, "select raw_record from rejects")["raw_record"].to_list()
    # the rejects' raw records do hold 個人番号 (12-digit runs): the report must not show them
    in_raw = {n for r in raw for n in re.findall(r"(?<![0-9])[0-9]{12}(?![0-9])", r or "")}
    assert in_raw, "the fixture's rejects should carry 個人番号 in their raw records"
    texts = [run_cli("report", out, "--format", f).output for f in ("json", "text")]
    assert run_cli("report", out, "--format", "html", "--output", tmp_path / "r.html").exit_code == 0
    assert run_cli("report", out, "--format", "csv", "--output", tmp_path / "csv").exit_code == 0
    assert run_cli("report", out, "--format", "xlsx", "--output", tmp_path / "r.xlsx").exit_code == 0
    texts.append((tmp_path / "r.html").read_text(encoding="utf-8"))
    texts += [p.read_text(encoding="utf-8-sig") for p in (tmp_path / "csv").glob("*.csv")]
    book = openpyxl.load_workbook(tmp_path / "r.xlsx", read_only=True)
    texts += ["\t".join(str(c) for c in row) for ws in book.worksheets for row in ws.iter_rows(values_only=True)]
    everything = "\n".join(texts)
    assert not [n for n in numbers | in_raw if n in everything]
    rejects = pl.read_csv(tmp_path / "csv" / "rejects.csv", infer_schema=False)
    shown = "\n".join(rejects["raw_record"].drop_nulls().to_list() + rejects["message"].drop_nulls().to_list())
    assert not re.search(r"[0-9]{12}", shown) and "********" in shown


def test_detail_tables_let_a_vendor_find_every_reject(migrated, tmp_path):
    out, _ = migrated
    assert run_cli("report", out, "--format", "xlsx", "--output", tmp_path / "r.xlsx").exit_code == 0
    book = openpyxl.load_workbook(tmp_path / "r.xlsx", read_only=True)
    assert {sheet_name(t) for t in ("files", "rejects", "unmapped_codes", "alerts", "code_coverage", "gaiji",
                                    "normalisations", "hash_totals", "money_sums")} <= set(book.sheetnames)
    rows = list(book[sheet_name("rejects")].iter_rows(values_only=True))
    header, body = rows[1], rows[2:]  # row 1: Japanese headers; row 2: the English ids
    assert {"source_file", "source_line", "byte_offset", "reason_code", "item", "item_ja", "message",
            "raw_record"} <= set(header)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert len(body) == summary["totals"]["rejected"]
    line = header.index("source_line")
    assert all(isinstance(r[line], int) for r in body)
    unmapped = list(book[sheet_name("unmapped_codes")].iter_rows(values_only=True))
    assert sorted((r[unmapped[1].index("legacy_code")], r[unmapped[1].index("records")]) for r in unmapped[2:]) == [
        ("5", 3), ("77", 3)]
    assert run_cli("report", out, "--format", "csv", "--output", tmp_path / "csv").exit_code == 0
    rejects = pl.read_csv(tmp_path / "csv" / "rejects.csv", infer_schema=False)
    assert rejects.height == len(body)
    assert (tmp_path / "csv" / "rejects.csv").read_bytes().startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8


def test_a_report_over_several_municipalities(exact_mapping, export_dir, tmp_path):
    from ikou.fixtures.vendors import generate_xml

    out = tmp_path / "out"
    assert run_cli("migrate", "--mapping", exact_mapping, "--input", export_dir, "--out", out).exit_code == 0
    generate_xml(tmp_path / "wakaba", residents=1000, seed=3)
    wakaba = ROOT / "mappings" / "wakaba_991031.yaml"
    assert run_cli("migrate", "--mapping", wakaba, "--input", tmp_path / "wakaba", "--out", out).exit_code in (0, 1)
    report = build_report(out)
    assert [m.municipality_code for m in report.municipalities] == ["991015", "991031"]
    assert report.totals["source_records"] == sum(m.totals["source_records"] for m in report.municipalities)
    one = json.loads(run_cli("report", out, "--format", "json", "--municipality", "991031").output)
    assert [m["municipality_code"] for m in one["municipalities"]] == ["991031"]
    assert run_cli("report", out, "--format", "html", "--output", tmp_path / "r.html").exit_code == 0
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert 'id="m991015-resident"' in page and 'id="m991031-resident"' in page
    # a rerun of one municipality: the report shows its latest run only
    assert run_cli("migrate", "--mapping", exact_mapping, "--input", export_dir, "--out", out).exit_code == 0
    again = build_report(out)
    assert len(again.municipalities) == 2 and again.municipalities[0].run_id != report.municipalities[0].run_id


def test_report_exit_codes(migrated, tmp_path):
    assert run_cli("report", tmp_path / "nothing").exit_code == 2
    out, _ = migrated
    assert run_cli("report", out, "--municipality", "999999").exit_code == 2
    # a run whose counts do not reconcile (tampered with): exit 3 and said so
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "ikou.duckdb").write_bytes((out / "ikou.duckdb").read_bytes())
    con = duckdb.connect(str(copy / "ikou.duckdb"))
    summary = json.loads(con.execute("select summary from runs").fetchall()[0][0])
    summary["files"][0]["landed"] -= 1
    con.execute("update runs set summary = ?", [json.dumps(summary)])
    con.close()
    result = run_cli("report", copy)
    assert result.exit_code == 3 and "reconciled: NO" in result.output


def test_hash_totals_and_money_sums_on_a_layout_with_money(tmp_path):
    """A made-up layout with a money item (type money): the report sums it to the yen."""
    layout = tmp_path / "fees.yaml"
    layout.write_text("""\
layout: fees
name_ja: 手数料
version: "1"
code_tables: {}
tables:
  fee:
    name_ja: 手数料
    duplicate_keys: [[fee_id]]
    row_key: [fee_id]
    items:
      - {id: municipality_code, name_ja: 市区町村コード, type: string, required: true}
      - {id: fee_id, name_ja: 番号, type: string, profile: digits, required: true}
      - {id: amount, name_ja: 金額, type: money, profile: digits}
""", encoding="utf-8")
    mapping = tmp_path / "m.yaml"
    mapping.write_text(f"""\
municipality: {{code: "372013", name: 高松市}}
layout: {layout}
sources:
  - name: f
    table: fee
    files: "*.csv"
    encoding: utf-8
    items:
      municipality_code: {{value: "372013"}}
      fee_id: 番号
      amount: 金額
""", encoding="utf-8")
    (tmp_path / "in").mkdir()
    big = 9_000_000_000_000_000  # beyond float precision: summed exactly
    (tmp_path / "in" / "f.csv").write_text(f"番号,金額\n1,{big}\n2,{big}\n3,１２３\nA9,1\n4,\n", encoding="utf-8")
    out = tmp_path / "out"
    assert run_cli("migrate", "--mapping", mapping, "--input", tmp_path / "in", "--out", out).exit_code == 0
    (m,) = json.loads(run_cli("report", out, "--format", "json").output)["municipalities"]
    assert m["money_sums"] == [{"table": "fee", "item": "amount", "item_ja": "金額", "records": 4,
                                "total": str(2 * big + 123 + 1)}]
    (h,) = m["hash_totals"]
    assert (h["item"], h["non_null"], h["distinct"], h["digit_sum"], h["non_digit"]) == ("fee_id", 5, 5, "10", 1)


def test_text_tables_pad_japanese_file_names_by_display_width():
    from ikou.textwidth import display_width, fate_table

    for excluded in (False, True):
        lines = fate_table([("住民記録.csv", 10, 7, 1, 1, 1, True), ("jumin.csv", 5, 5, 0, 0, 0, True)], excluded)
        # the numbers start in the same terminal column whatever the file name's script
        ends = {display_width(line) - len(line.split()[-1]) for line in lines}  # where the last column starts
        assert len(ends) == 1
        assert lines[1].split()[-1] == "yes" and lines[0].split()[0] == "file"
        assert ("excluded" in lines[0]) is excluded


def test_the_run_summary_reads_back_what_it_wrote(migrated, vendor_run):
    """One summary model: summary.json, the runs table and the report read it through RunSummary."""
    from ikou.report import RunSummary

    for out in (migrated[0], vendor_run[0]):
        text = (out / "summary.json").read_text(encoding="utf-8")
        again = RunSummary.from_json(text)
        assert again.to_json() == text
        assert again.exit_code == json.loads(text)["exit_code"] and again.totals == json.loads(text)["totals"]

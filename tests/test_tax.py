"""The second 業務: the 個人住民税 layout (ikou/schemas/tax.yaml) from files alone — money items,
range checks, the reference to the resident data, and 金額照合 (source = landed + rejected + merged,
to the yen)."""

from __future__ import annotations

import json

import polars as pl
import pytest

from ikou.fixtures.generator import generate
from tests.conftest import MAPPING, query, run_cli

TAX_MAPPING = """\
municipality: {code: "991015", name: 桜ヶ丘市}
layout: tax
sources:
  - name: tax
    table: tax_assessment
    files: "ZEI_*.csv"
    encoding: cp932
    items:
      municipality_code: {value: "991015"}
      atena_number: {column: 宛名番号, pad: 10}
      fiscal_year: 年度
      tax_type: {column: 徴収区分, code_table: zei_type}
      instalment: 期別
      assessed_amount: 調定額
      paid_amount: 収納額
      arrears_amount: 滞納額
      due_date: 納期限
code_tables:
  zei_type: {standard: tax_type, codes: {普徴: "1", 特徴: "2", 年特: "3"}}
"""
HEADER = "宛名番号,年度,徴収区分,期別,調定額,収納額,滞納額,納期限"


@pytest.fixture(scope="module")
def resident_out(tmp_path_factory):
    d = tmp_path_factory.mktemp("tax")
    generate(d / "in", residents=1000, seed=4)
    out = d / "out"
    assert run_cli("migrate", "--mapping", MAPPING, "--input", d / "in", "--out", out).exit_code in (0, 1)
    ids = query(out, "select atena_number from resident order by atena_number limit 4")["atena_number"].to_list()
    mapping = d / "tax.yaml"
    mapping.write_text(TAX_MAPPING, encoding="utf-8")
    return d, out, ids, mapping


def write_tax(folder, lines: list[str]):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ZEI_991015.csv").write_bytes(("\r\n".join([HEADER, *lines]) + "\r\n").encode("cp932"))


def test_tax_export_lands_with_money_exact_and_references_checked(resident_out, tmp_path):
    d, out, ids, mapping = resident_out
    a, b, c, _ = ids
    write_tax(tmp_path / "in", [
        f'{a},2025,普徴,1,"12,300","12,300",0,令和7年6月30日',   # thousands separators
        f"{b},2025,普徴,1,５０００,△100,5100,R07.06.30",          # full-width digits, the accountant's minus
        f"{c},2025,特徴,3,7000円,7000,0,2025-08-10",               # 円
        "9999999999,2025,普徴,1,100,0,100,2025-06-30",             # no such resident: unknown_taxpayer
        f"{c},2025,特徴,13,1,1,0,2025-08-10",                      # 期別 13: out of range
        f"{a},2025,普徴,2,12x00,0,0,2025-07-31",                   # not an amount: invalid_integer
    ])
    before = query(out, "select count(*) n from rejects")["n"][0]
    result = run_cli("migrate", "--mapping", mapping, "--input", tmp_path / "in", "--out", out, "--json")
    assert result.exit_code == 0, result.output
    s = json.loads(result.output)
    assert s["totals"] == {"source_records": 6, "landed": 3, "rejected": 3, "merged": 0, "excluded": 0}
    assert s["rejects_by_reason"] == {"unknown_taxpayer": 1, "out_of_range": 1, "invalid_integer": 1}
    landed = query(out, "select atena_number, assessed_amount, paid_amount from tax_assessment order by all")
    assert sorted(landed.rows()) == sorted([(a, 12300, 12300), (b, 5000, -100), (c, 7000, 7000)])
    # the resident run's rejects are still there: run tables are replaced per 業務
    assert query(out, "select count(*) n from rejects")["n"][0] == before + 3
    # 金額照合 per 年度, 税目, 期別: source = landed + rejected + merged
    money = {(m["item"], m["by"]["tax_type"], m["by"]["instalment"]): m for m in s["money"]}
    m = money[("assessed_amount", "1", 1)]
    assert (m["source"], m["landed"], m["rejected"], m["merged"]) == (12300 + 5000 + 100, 17300, 100, 0)
    assert money[("assessed_amount", "1", 2)]["unparsed_records"] == 1
    assert all(x["reconciled"] for x in s["money"]) and s["money_reconciled"]
    # the summary's money is typed and reads back as written (one model for migrate, report, group)
    from ikou.report import MoneyFlow, RunSummary
    again = RunSummary.from_json(result.output)
    assert all(isinstance(x, MoneyFlow) for x in again.money) and again.to_json() == result.output
    # and the report sums the money items of the landed data
    report = json.loads(run_cli("report", out, "--format", "json").output)
    tax = next(x for x in report["municipalities"] if x["layout"] == "tax")
    assert tax["money_totals"] == s["money"]  # the report shows the summary's 金額照合 as it was written
    assert {x["item"]: x["total"] for x in tax["money_sums"]}["assessed_amount"] == str(12300 + 5000 + 7000)


def test_a_changed_amount_between_parsing_and_landing_fails_money_reconciliation(resident_out, tmp_path):
    """The money check reads the landed Parquet back: an amount changed on the way is exit 1."""
    d, out, ids, mapping = resident_out
    write_tax(tmp_path / "in", [f"{ids[0]},2025,普徴,1,1000,1000,0,2025-06-30",
                                f"{ids[1]},2025,普徴,1,2000,0,2000,2025-06-30"])

    def tampered(point, value):
        if point == "assembled":  # the written landed Parquet, before reconcile reads it back
            for f in (value / "parquet" / "tax_assessment").rglob("*.parquet"):
                frame = pl.read_parquet(f)
                frame.with_columns(pl.col("assessed_amount") + 1).write_parquet(f)
        return value

    result = run_cli("migrate", "--mapping", mapping, "--input", tmp_path / "in", "--dry-run", "--json",
                     fault=tampered)
    s = json.loads(result.output)
    assert result.exit_code == 1 and not s["money_reconciled"]
    bad = [m for m in s["money"] if not m["reconciled"]]
    assert [(m["item"], m["source"], m["landed"]) for m in bad] == [("assessed_amount", 3000, 3002)]


def test_without_resident_data_the_tax_run_stops_before_writing(tmp_path, resident_out):
    _, _, ids, mapping = resident_out
    write_tax(tmp_path / "in", [f"{ids[0]},2025,普徴,1,1000,1000,0,2025-06-30"])
    empty = tmp_path / "empty-out"
    empty.mkdir()
    result = run_cli("migrate", "--mapping", mapping, "--input", tmp_path / "in", "--out", empty)
    assert result.exit_code == 2 and "migrate the referenced layout" in result.output
    assert not any(empty.iterdir())
    # a dry run without OUT checks everything else and says the reference was not checked
    dry = run_cli("migrate", "--mapping", mapping, "--input", tmp_path / "in", "--dry-run", "--json")
    assert dry.exit_code == 0 and "not checked" in json.loads(dry.output)["notes"][0]


def test_range_checks_need_numbers():
    from ikou.errors import IkouError
    from ikou.layout import parse_layout

    text = """\
layout: x
tables:
  t:
    items:
      - {id: municipality_code, name_ja: 市, type: string}
      - {id: n, name_ja: 数, type: string, checks: [{range: [1, 2]}]}
      - {id: m, name_ja: 額, type: money, checks: [{range: [5, 1]}, {pattern: "^1$"}, {range: [a, 2]}]}
"""
    with pytest.raises(IkouError) as exc:
        parse_layout(text, "x.yaml")
    problems = exc.value.problems
    assert any("range needs an integer, money, decimal or date item" in p for p in problems)
    assert any("min is above max" in p for p in problems)
    assert any("must be whole numbers" in p for p in problems)
    assert any("a pattern checks text" in p for p in problems)
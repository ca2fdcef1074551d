"""The migration's scope (移行対象の範囲, ikou/scope.py): records a `scope:` rule names get the fifth
fate, excluded, and source = landed + rejected + merged + excluded holds in every output. The
expected records are found here with Python's csv module and a wareki reading of this test's own,
not with ikou's date or code tables."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re

import pytest
from lxml import etree

from ikou.fixtures.generator import generate
from tests.conftest import copy_mapping, query, run_cli
from tests.test_tax import write_tax

SCOPE = """
scope:
  - name: removed_before_2021
    table: resident
    description: 2021年4月1日より前に消除された者は移行しない
    when:
      - {item: resident_status, in: ["2", "3"]}
      - {item: change_date, before: 2021-04-01}
"""
ERA_START = {"M": 1867, "T": 1911, "S": 1925, "H": 1988, "R": 2018}  # year 1 of each era, less one
LEGACY_REMOVED = {"3", "4"}  # the fixture vendor's 転出者 and 死亡者 (its mapping turns them into 2 and 3)


def _key(fields: list[str]) -> tuple[str, str, str]:
    return fields[0], fields[1], fields[2]  # 宛名番号, 履歴番号, 枝番号


def _expected(export, column: str = "住民状態", values: set[str] = LEGACY_REMOVED,
              before: dt.date | None = dt.date(2021, 4, 1)) -> set[tuple[str, str, str]]:
    """The export's records whose ``column`` is one of ``values`` and whose 異動日 is before
    ``before`` (by default those removed, 転出 or 死亡, before 2021-04-01), read with the csv module."""
    text = next(export.glob("JUMIN_*.csv")).read_bytes().decode("cp932", "replace")
    rows = list(csv.reader(io.StringIO(text)))
    at = next(i for i, r in enumerate(rows) if r and not r[0].startswith("#"))
    header = rows[at]
    which, changed = header.index(column), header.index("異動日")
    found = set()
    for r in rows[at + 1:]:
        if len(r) != len(header) or r[which] not in values:
            continue
        if before is None:  # no date condition
            found.add(_key(r))
            continue
        m = re.fullmatch(r"([MTSHR])(\d+)\.(\d+)\.(\d+)", r[changed])
        try:
            day = dt.date(ERA_START[m[1]] + int(m[2]), int(m[3]), int(m[4])) if m else None
        except ValueError:
            day = None
        if day is not None and day < before:
            found.add(_key(r))
    return found


def _unreadable(out) -> set[tuple[str, str, str]]:
    """The records rejected whole (their bytes or fields unreadable): no value of theirs is known."""
    raws = query(out, "select raw_record from rejects where reason_code in ('invalid_encoding', 'field_count')")
    return {_key(next(csv.reader(io.StringIO(r)))) for r in raws["raw_record"] if r}


def test_history_older_than_a_date_is_excluded_by_a_second_rule(tmp_path, scoped_run):
    d, _, _ = scoped_run
    mapping = copy_mapping(tmp_path)
    mapping.write_text(mapping.read_text(encoding="utf-8") + SCOPE + """
  - name: old_history
    table: resident
    when:
      - {item: latest_flag, in: ["0"]}
      - {item: change_date, before: 2016-04-01}
""", encoding="utf-8")
    result = run_cli("migrate", "--mapping", mapping, "--input", d / "in", "--out", tmp_path / "out", "--json")
    s = json.loads(result.output)
    got = query(tmp_path / "out", "select scope_rule, raw_record from excluded")
    by_rule = {rule: {_key(next(csv.reader(io.StringIO(r)))) for r in part["raw_record"]}
               for (rule,), part in got.group_by("scope_rule")}
    rejected = _unreadable(tmp_path / "out")
    removed = _expected(d / "in") - rejected
    # the first rule that matches names the fate: an old history row of a removed person is removed_before_2021
    history = _expected(d / "in", "最新", {"0"}, dt.date(2016, 4, 1)) - rejected - removed
    assert history and by_rule == {"removed_before_2021": removed, "old_history": history}
    assert s["excluded_by_rule"] == {"removed_before_2021": len(removed), "old_history": len(history)}
    assert s["reconciled"] and s["columns_reconciled"]


@pytest.fixture(scope="module")
def scoped_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("scope")
    generate(d / "in", residents=3000, seed=11)
    mapping = copy_mapping(d)
    mapping.write_text(mapping.read_text(encoding="utf-8") + SCOPE, encoding="utf-8")
    result = run_cli("migrate", "--mapping", mapping, "--input", d / "in", "--out", d / "out", "--json")
    assert result.exit_code in (0, 1), result.output
    return d, mapping, json.loads(result.output)


def test_removed_persons_before_a_date_are_excluded_with_their_raw_records(scoped_run):
    d, _, summary = scoped_run
    expected = _expected(d / "in")
    raws = query(d / "out", "select scope_rule, target_table, raw_record from excluded")
    got = {_key(next(csv.reader(io.StringIO(r)))) for r in raws["raw_record"]}
    assert len(expected) > 20  # the fixture has 消除者 of many ages, some removed after the date
    # every one of them, unless its record could not be read at all (no values to show it)
    assert got == expected - _unreadable(d / "out")
    assert set(raws["scope_rule"]) == {"removed_before_2021"} and set(raws["target_table"]) == {"resident"}
    landed = query(d / "out", "select atena_number, history_number::varchar h from resident")
    assert not {(a, h) for a, h in landed.iter_rows()} & {(k[0], k[1]) for k in got}


def test_the_fifth_fate_reconciles_in_every_output(scoped_run):
    d, mapping, summary = scoped_run
    t = summary["totals"]
    n = t["excluded"]
    assert n > 0 and t["source_records"] == t["landed"] + t["rejected"] + t["merged"] + n
    assert summary["excluded_by_rule"] == {"removed_before_2021": n} and summary["reconciled"]
    assert summary["columns_reconciled"]  # every value of an excluded record is counted as excluded
    assert sum(c.get("excluded", 0) for c in summary["columns"]) > 0
    assert summary["scope"][0]["condition"] == ("住民状態(resident_status) in [2, 3] and "
                                                "異動年月日(change_date) before 2021-04-01")
    runs = query(d / "out", "select source_records, landed, rejected, merged, excluded from runs")
    assert runs.row(0) == (t["source_records"], t["landed"], t["rejected"], t["merged"], n)
    # the report counts the fates again from OUT
    report = json.loads(run_cli("report", d / "out", "--format", "json").output)
    (m,) = report["municipalities"]
    assert m["totals"]["excluded"] == n and report["reconciled"] 
    assert [(x["code"], x["records"]) for x in m["exclusions"]] == [("removed_before_2021", n)]
    lines = run_cli("report", d / "out").output.splitlines()
    head = next(x for x in lines if x.split()[:2] == ["file", "source"])
    assert head.split() == ["file", "source", "landed", "rejected", "merged", "excluded", "reconciled"]
    assert any(x.split()[:2] == ["removed_before_2021", str(n)] for x in lines)
    # JUnit: the file's reconciliation case counts the excluded records, the rule is a case of its own
    result = run_cli("validate", "--mapping", mapping, "--input", d / "in", "--junit", d / "j.xml")
    cases = etree.parse(str(d / "j.xml")).getroot().iter("testcase")
    by_class = {}
    for c in cases:
        by_class.setdefault(c.get("classname"), []).append(c)
    (recon,) = [c for c in by_class["ikou.reconciliation"] if "one fate" in c.get("name")]
    assert recon.find("failure") is None and f"+ {n} excluded" in recon.findtext("system-out")
    (scope,) = by_class["ikou.scope"]
    assert scope.find("failure") is None and scope.findtext("system-out").startswith(f"{n} record(s) excluded")
    assert result.exit_code in (0, 1)


def test_a_vendor_code_no_standard_code_represents_is_excluded_by_its_column(tmp_path, scoped_run):
    """The old system's 住民状態 5 (the fixture's unknown status code, rejected as unmapped_code
    without a scope): named by the export's own column, those records are out of scope, not
    rejects, and their values are counted as excluded."""
    d, _, _ = scoped_run
    mapping = copy_mapping(tmp_path)
    mapping.write_text(mapping.read_text(encoding="utf-8") + """
scope:
  - name: status_5
    table: resident
    description: 旧システムの住民状態5（住登外）は移行しない
    when: [{column: 住民状態, in: ["5"]}]
""", encoding="utf-8")
    result = run_cli("migrate", "--mapping", mapping, "--input", d / "in", "--out", tmp_path / "out", "--json")
    s = json.loads(result.output)
    expected = _expected(d / "in", "住民状態", {"5"}, None) - _unreadable(tmp_path / "out")
    got = query(tmp_path / "out", "select raw_record from excluded")["raw_record"]
    assert expected and {_key(next(csv.reader(io.StringIO(r)))) for r in got} == expected
    assert s["excluded_by_rule"] == {"status_5": len(expected)} and s["reconciled"] and s["columns_reconciled"]
    unmapped = query(tmp_path / "out", "select count(*) n from rejects where reason_code = 'unmapped_code' "
                                       "and item = 'resident_status'")["n"][0]
    assert unmapped == 0
    flow = next(c for c in s["columns"] if c["column"] == "住民状態")
    assert flow["excluded"] == len(expected) and flow["reconciled"]


def test_reject_rates_are_of_the_records_in_scope(scoped_run):
    _, _, summary = scoped_run
    t = summary["totals"]
    assert summary["thresholds"]["reject_rate"] == round(t["rejected"] / (t["source_records"] - t["excluded"]), 6)


def test_scope_rules_are_checked_against_the_layout_before_anything_is_read(tmp_path, export_dir):
    mapping = copy_mapping(tmp_path)
    mapping.write_text(mapping.read_text(encoding="utf-8") + """
scope:
  - name: bad_code
    table: resident
    when: [{item: resident_status, in: ["7"]}]
  - name: bad_operator
    table: resident
    when: [{item: atena_number, before: 2020-01-01}]
  - name: two_operators
    table: resident
    when: [{item: change_date, before: 2020-01-01, on_or_after: 2010-01-01}]
  - name: unknown_item
    table: resident
    when: [{item: no_such_item, empty: true}]
  - name: unfed
    table: resident
    when: [{item: removal_date, before: 2020-01-01}]
  - name: no_such_column
    table: resident
    when: [{column: 住登外フラグ, in: ["1"]}]
  - name: both
    table: resident
    when: [{item: sex, column: 性別, in: ["1"]}]
""", encoding="utf-8")
    result = run_cli("migrate", "--mapping", mapping, "--input", export_dir, "--out", tmp_path / "out")
    assert result.exit_code == 2
    for expected in ("bad_code", "7 not code(s) of the standard code table resident_status",
                     "bad_operator", "atena_number is not a date item",
                     "two_operators", "give exactly one of",
                     "unknown_item", "'no_such_item' is not an item",
                     "removal_date given by no source of table resident",
                     "column '住登外フラグ' is not a column the sources of table resident name",
                     "give either item (a standard item) or column"):
        assert expected in result.output, expected
    assert not (tmp_path / "out").exists()


def test_excluded_tax_records_are_in_the_money_reconciliation(tmp_path):
    from tests.test_tax import TAX_MAPPING
    generate(tmp_path / "res", residents=300, seed=4, defects=False)
    out = tmp_path / "out"
    assert run_cli("migrate", "--mapping", copy_mapping(tmp_path), "--input", tmp_path / "res",
                   "--out", out).exit_code in (0, 1)
    a, b = query(out, "select atena_number from resident order by atena_number limit 2")["atena_number"].to_list()
    write_tax(tmp_path / "in", [
        f"{a},2019,普徴,1,1000,400,600,2019-06-30",   # out of scope: 2019
        f"{b},2019,普徴,2,2500,2500,0,2019-07-31",    # out of scope
        f"{a},2025,普徴,1,7000,7000,0,2025-06-30",
        f"{b},2025,普徴,1,300,0,300,2025-06-30",
    ])
    mapping = tmp_path / "tax.yaml"
    mapping.write_text(TAX_MAPPING + """
scope:
  - name: before_2020
    table: tax_assessment
    when: [{item: fiscal_year, in: ["2019"]}]
""", encoding="utf-8")
    result = run_cli("migrate", "--mapping", mapping, "--input", tmp_path / "in", "--out", out, "--json")
    assert result.exit_code == 0, result.output
    s = json.loads(result.output)
    assert s["totals"] == {"source_records": 4, "landed": 2, "rejected": 0, "merged": 0, "excluded": 2}
    money = {(m["item"], m["by"]["fiscal_year"], m["by"]["instalment"]): m for m in s["money"]}
    assert money[("assessed_amount", 2019, 1)]["excluded"] == 1000
    assert money[("assessed_amount", 2019, 2)]["excluded"] == 2500
    assert money[("paid_amount", 2019, 1)]["excluded"] == 400
    assert money[("assessed_amount", 2025, 1)]["landed"] == 7300 and money[("assessed_amount", 2025, 1)]["excluded"] == 0
    assert all(m["reconciled"] for m in s["money"]) and s["money_reconciled"]

"""Per-mapping overrides of the layout's checks (listed for the vendor to see), and OUT keeping
the layout each run used, so that `ikou report` gives the same answer from any folder."""

from __future__ import annotations

import json
import shutil

import pytest

from ikou.errors import IkouError
from ikou.mapping import load_mapping

from .conftest import copy_mapping, run_cli
from .test_columns import MAP, ROWS, TOWNS, write_columns_export

OVERRIDES = """checks:
  atena_number: {check_digit: "off"}       # this vendor's 宛名番号 carry no check digit
  household_number: {check_digit: "off"}
  name_kana: {pattern: error}              # and its readings must be katakana
  name: {width: "off"}
"""


def test_a_check_turned_off_is_gone_and_listed(tmp_path):
    # a vendor numbering its 宛名番号 and 世帯番号 1, 2, 3 … without a check digit
    rows = [[str(1000 + i)] + r[1:2] + [str(100 + i)] + r[3:] for i, r in enumerate(ROWS)]
    write_columns_export(tmp_path / "in", rows=rows)
    (tmp_path / "towns.tsv").write_text(TOWNS, encoding="utf-8")
    mapping = tmp_path / "m.yaml"
    kana = "      name_kana: 名\n"  # 名 holds ｼﾞｮﾝ, 太郎 …: not all katakana
    mapping.write_text(MAP.replace("      sex: 性別\n", "      sex: 性別\n" + kana), encoding="utf-8")

    def rules(text: str) -> dict:
        mapping.write_text(text, encoding="utf-8")
        summary = json.loads(run_cli("migrate", "--mapping", mapping, "--input", tmp_path / "in", "--dry-run",
                                     "--json").output)
        return summary, {(r["kind"], r["code"], r["item"]): r["records"] for r in summary["rules"]}

    plain, before = rules(mapping.read_text(encoding="utf-8"))
    assert before[("alert", "check_digit", "atena_number")] >= 3
    assert before[("alert", "invalid_format", "name_kana")] >= 1
    summary, after = rules(mapping.read_text(encoding="utf-8") + OVERRIDES)
    assert ("alert", "check_digit", "atena_number") not in after
    assert ("alert", "check_digit", "household_number") not in after
    # an alert moved to error: the record is rejected now
    assert after[("reject", "invalid_format", "name_kana")] == before[("alert", "invalid_format", "name_kana")]
    assert {"table": "resident", "item": "atena_number", "check": "check_digit modulus11", "from": "alert",
            "to": "off"} in summary["overrides"]
    assert {"table": "resident", "item": "name_kana", "check": "pattern", "from": "alert", "to": "error"} in \
        summary["overrides"]
    text = run_cli("migrate", "--mapping", mapping, "--input", tmp_path / "in", "--dry-run").output
    assert "resident.atena_number: check_digit modulus11: alert -> off" in text


@pytest.mark.parametrize("override, fragment", [
    ("name: {check_digit: \"off\"}", "item name (氏名) has no check_digit check"),
    ("nickname: {level: alert}", "'nickname' is not an item"),
    ("atena_number: {check_digit: maybe}", "'maybe' is not one of off, error, alert"),
])
def test_an_override_of_what_is_not_there_is_refused(tmp_path, override, fragment):
    mapping = copy_mapping(tmp_path, **{"\nsources:": f"\nchecks:\n  {override}\n\nsources:"})
    with pytest.raises(IkouError) as exc:
        load_mapping(mapping)
    assert any(fragment in p for p in exc.value.problems), exc.value.problems


LAYOUT = """\
layout: parcels
name_ja: 区画
tables:
  parcels:
    name_ja: 区画
    duplicate_keys: [[parcel]]
    items:
      - {id: municipality_code, name_ja: 市区町村コード, type: string, required: true}
      - {id: parcel, name_ja: 区画番号, type: string, required: true}
"""


def test_the_report_reads_the_layout_the_run_used_from_out(tmp_path, monkeypatch):
    work = tmp_path / "work"
    (work / "in").mkdir(parents=True)
    (work / "in" / "p.csv").write_text("区画番号\r\n0012\r\n0034\r\n", encoding="cp932")
    (work / "layouts").mkdir()
    (work / "layouts" / "parcels.yaml").write_text(LAYOUT, encoding="utf-8")
    (work / "m.yaml").write_text('municipality: {code: "991015"}\nlayout: layouts/parcels.yaml\nsources:\n'
                                 '  - {name: p, table: parcels, files: "p.csv",\n'
                                 '     items: {municipality_code: {value: "991015"}, parcel: 区画番号}}\n',
                                 encoding="utf-8")
    out = tmp_path / "out"
    assert run_cli("migrate", "--mapping", work / "m.yaml", "--input", work / "in", "--out", out).exit_code == 0
    kept = list((out / "layouts").glob("parcels-*.yaml"))
    assert len(kept) == 1 and kept[0].read_text(encoding="utf-8") == LAYOUT
    # the layout and its mapping move away; the report is asked for from another folder
    shutil.rmtree(work)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    report = json.loads(run_cli("report", out, "--format", "json").output)
    section = report["municipalities"][0]
    assert section["layout_ja"] == "区画"
    assert [h["item_ja"] for h in section["hash_totals"]] == ["区画番号"]
    assert section["hash_totals"][0]["digit_sum"] == "46"  # 12 + 34

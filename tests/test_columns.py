"""Every source column accounted for, value by value, and the transformations of a mapping
(split, concat, lookup, default_from, not_provided, constants), on small exports written here."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import polars as pl
import pytest

from ikou.errors import ExitCode, IkouError
from ikou.pipeline.run import migrate
from ikou.pipeline.state import RunOptions

from .conftest import query, run_cli

HEADER = ["宛名番号", "履歴", "世帯", "種別", "状態", "氏", "名", "性別", "生年月日", "続柄", "事由", "異動日", "住所", "町字名",
          "予備", "旧番号", "個人番号欄"]
ROWS = [
    ["0001000012", "1", "0005000017", "1", "1", "山田", "太郎", "1", "1980-01-02", "02", "01", "2020-04-01",
     "本町 1-2-3 コーポ本町101", "本町", "", "A-17", "123456789018"],
    ["0001000020", "1", "0005000017", "1", "1", "山田", "花子", "2", "1982-03-04", "12", "01", "2020-04-01",
     "本町 1-2-3", "本町", "　", "A-18", ""],
    ["0001000039", "1", "0005000025", "1", "1", "佐藤", "", "1", "1970-05-06", "02", "01", "2020-04-01",
     "緑町 4-5", "緑町", "", "", ""],
    ["0001000047", "1", "0005000025", "2", "1", "ｽﾐｽ", "ｼﾞｮﾝ", "1", "1990-07-08", "99", "02", "2021-06-01",
     "おかしな住所", "不明町", "x", "B-1", ""],
]
TOWNS = "町字名\t町字コード\n本町\t0001001\n緑町\t0001002\n"


def write_columns_export(folder: Path, rows=ROWS, header=HEADER) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO(newline="")
    csv.writer(buf, lineterminator="\r\n").writerows([header, *rows])
    (folder / "JUMIN.csv").write_text(buf.getvalue(), encoding="utf-8")
    return folder


MAP = """\
municipality: {code: "991015", name: 桜ヶ丘市}
layout: resident
sources:
  - name: residents
    table: resident
    files: "JUMIN.csv"
    encoding: utf-8
    items:
      municipality_code: {value: "991015"}
      atena_number: 宛名番号
      history_number: 履歴
      household_number: 世帯
      resident_type: 種別
      resident_status: 状態
      surname: 氏
      given_name: 名
      name: {concat: [氏, 名], separator: "　"}
      sex: 性別
      birth_date: {column: 生年月日, date_forms: [iso]}
      relationship_code: 続柄
      change_reason_code: 事由
      change_date: {column: 異動日, date_forms: [iso]}
      address_town_id: {column: 町字名, lookup: towns}
      household_head_name: {default_from: name}
    split:
      - column: 住所
        pattern: '(?P<address_town>[^ 0-9]+) ?(?P<address_block>[0-9][0-9-]*) ?(?P<address_building>.*)'
        on_mismatch: alert
    not_provided:
      history_branch_number: this vendor exports no 枝番号
    unmapped_columns:
      予備: {drop: always empty in this vendor's export}
      旧番号: keep
      個人番号欄: {drop: the 個人番号 is migrated by the 番号連携 team}
lookups:
  towns: {file: towns.tsv, key: 町字名, value: 町字コード}
"""


@pytest.fixture()
def case(tmp_path):
    write_columns_export(tmp_path / "in")
    (tmp_path / "towns.tsv").write_text(TOWNS, encoding="utf-8")
    mapping = tmp_path / "m.yaml"
    mapping.write_text(MAP, encoding="utf-8")
    return tmp_path, mapping


def _run(mapping: Path, folder: Path, out: Path, *extra: str):
    return run_cli("migrate", "--mapping", mapping, "--input", folder, "--out", out, "--json", *extra)


def test_a_column_neither_mapped_nor_declared_stops_the_run(case):
    tmp, mapping = case
    mapping.write_text(MAP.replace("      個人番号欄: {drop: the 個人番号 is migrated by the 番号連携 team}\n", ""),
                       encoding="utf-8")
    result = run_cli("migrate", "--mapping", mapping, "--input", tmp / "in", "--out", tmp / "out")
    assert result.exit_code == 2, result.output
    assert "column '個人番号欄' is neither mapped nor listed under unmapped_columns" in result.output
    assert "'********9018'" in result.output and "123456789018" not in result.output  # a sample, masked
    assert not (tmp / "out" / "ikou.duckdb").exists()


def test_declared_columns_land_or_are_dropped_with_their_reason(case):
    tmp, mapping = case
    result = _run(mapping, tmp / "in", tmp / "out")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    cols = {c["column"]: c for c in summary["columns"]}
    assert cols["予備"]["fate"] == "dropped" and cols["予備"]["source"] == 2  # '　' and 'x'
    assert cols["予備"]["reason"] == "always empty in this vendor's export"
    assert cols["個人番号欄"]["fate"] == "dropped" and cols["個人番号欄"]["source"] == 1
    assert cols["旧番号"]["fate"] == "kept" and cols["旧番号"]["landed"] == 3 and cols["旧番号"]["reconciled"]
    assert summary["columns_reconciled"] and summary["reconciled"]
    extras = query(tmp / "out", "select atena_number, extras['旧番号'] as old from resident order by 1")
    assert extras["old"].to_list() == ["A-17", "A-18", None, "B-1"]
    assert summary["not_provided"] == [{"table": "resident", "item": "history_branch_number",
                                        "reason": "this vendor exports no 枝番号"}]
    assert {"table": "resident", "item": "municipality_code", "value": "991015"} in summary["constants"]
    text = run_cli("migrate", "--mapping", mapping, "--input", tmp / "in", "--dry-run").output
    assert "dropped: 予備 (2 values): always empty in this vendor's export" in text
    assert "resident.history_branch_number: this vendor exports no 枝番号" in text


def test_transformations_land_what_they_say(case):
    tmp, mapping = case
    assert _run(mapping, tmp / "in", tmp / "out").exit_code == 0
    got = query(tmp / "out", "select name, household_head_name, address_town, address_block, address_building, "
                             "address_town_id from resident order by atena_number")
    assert got.row(0) == ("山田　太郎", "山田　太郎", "本町", "1-2-3", "コーポ本町101", "0001001")
    assert got.row(1) == ("山田　花子", "山田　花子", "本町", "1-2-3", None, "0001001")
    assert got.row(2) == ("佐藤", "佐藤", "緑町", "4-5", None, "0001002")  # an empty 名: no separator
    # the 4th address matches no part of the pattern and no town: both alerts, nothing guessed
    assert got.row(3)[2:] == (None, None, None, None)
    alerts = query(tmp / "out", "select alert_code, item, value from alerts order by 1")
    assert ("split_mismatch", "address_town", "おかしな住所") in alerts.rows()
    assert ("lookup_unmatched", "address_town_id", "不明町") in alerts.rows()
    changes = query(tmp / "out", "select item, rules, original, cleansed from cleansing_changes order by source_line, "
                                 "item")
    assert ("address_block", "split", "本町 1-2-3 コーポ本町101", "1-2-3") in changes.rows()
    assert ("address_town_id", "lookup:towns", "本町", "0001001") in changes.rows()
    assert ("household_head_name", "default_from:name", None, "山田　太郎") in changes.rows()


def test_cleared_values_are_counted_by_rule(case):
    tmp, mapping = case
    summary = json.loads(_run(mapping, tmp / "in", tmp / "out").output)
    cols = {c["column"]: c for c in summary["columns"]}
    addr = cols["住所"]
    assert addr["source"] == 4 and addr["landed"] == 3 and addr["cleared"] == {"split_mismatch": 1}
    assert set(addr["items"]) == {"address_town", "address_block", "address_building"}
    town = cols["町字名"]
    assert town["source"] == 4 and town["landed"] == 3 and town["cleared"] == {"lookup_unmatched": 1}
    # 予備's '　' is dropped with the column; 名 of the 3rd record is empty: not a value
    assert cols["名"]["source"] == 3 and cols["名"]["landed"] == 3


@pytest.mark.parametrize("phase", ["staged", "landed"])
def test_a_value_lost_between_parsing_and_landing_fails_the_run(case, phase):
    """A mapped column emptied after parsing (injected): the run does not reconcile (exit 3), and
    nothing is landed. 'staged' loses the values in the row stages, 'landed' in the written table."""
    tmp, mapping = case
    out = tmp / "out"

    def lose(at: str, frame):
        return frame.with_columns(pl.lit(None, pl.String).alias("address_town_id")) if at == phase else frame

    with pytest.raises(IkouError) as exc:
        migrate(RunOptions(mapping=mapping, input_dir=tmp / "in", out=out, fault=lose))
    assert exc.value.exit_code == ExitCode.INTERNAL
    text = "\n".join(exc.value.problems)
    if phase == "staged":
        # three towns were found in the lookup table, one was not (cleared by lookup_unmatched)
        assert "column '町字名': 4 non-empty values" in text and "3 became empty with no rule to say why" in text
    else:
        assert "resident.address_town_id: the landed records held 3 values when staged, but the written " \
               "Parquet holds 0" in text
    assert not (out / "ikou.duckdb").exists()
    assert _run(mapping, tmp / "in", out).exit_code == 0  # the same run without the fault lands


def test_a_required_item_absent_needs_a_declaration(case):
    tmp, mapping = case
    mapping.write_text(MAP.replace("      sex: 性別\n", "").replace("    unmapped_columns:\n",
                                                                 "    unmapped_columns:\n      性別: {drop: x}\n"),
                       encoding="utf-8")
    result = run_cli("migrate", "--mapping", mapping, "--input", tmp / "in", "--dry-run")
    assert result.exit_code == 2 and "required item sex (性別) is not mapped" in result.output
    assert "list it under not_provided with the reason" in result.output
    mapping.write_text(mapping.read_text(encoding="utf-8").replace(
        "      history_branch_number: this vendor exports no 枝番号\n",
        "      history_branch_number: this vendor exports no 枝番号\n      sex: not recorded by this vendor\n"),
        encoding="utf-8")
    result = run_cli("migrate", "--mapping", mapping, "--input", tmp / "in", "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    assert {"table": "resident", "item": "sex", "reason": "not recorded by this vendor"} in \
        json.loads(result.output)["not_provided"]


@pytest.mark.parametrize("change, fragment", [
    ("      name: {concat: [氏, 名], separator: \"　\"}\n", "concat needs separator"),
    ("      household_head_name: {default_from: name}\n", "an item cannot default to itself"),
    ("    split:\n", "is given twice"),
    ("  towns: {file: towns.tsv, key: 町字名, value: 町字コード}\n", "no column '町字'"),
])
def test_transformation_mistakes_are_reported_before_reading(case, change, fragment):
    tmp, mapping = case
    broken = {
        "concat needs separator": "      name: {concat: [氏, 名]}\n",
        "an item cannot default to itself": "      household_head_name: {default_from: household_head_name}\n",
        "is given twice": "      address_town: 住所\n    split:\n",
        "no column '町字'": "  towns: {file: towns.tsv, key: 町字, value: 町字コード}\n",
    }[fragment]
    mapping.write_text(MAP.replace(change, broken), encoding="utf-8")
    result = run_cli("migrate", "--mapping", mapping, "--input", tmp / "in", "--dry-run")
    assert result.exit_code == 2 and fragment in result.output, result.output


def test_value_counts_agree_with_pythons_csv_module(exact_mapping, export_dir):
    """The fixture export counted independently: every column's non-empty values over the
    records ikou parsed (those not rejected whole by the extractor) equal its source count."""
    result = run_cli("migrate", "--mapping", exact_mapping, "--input", export_dir, "--dry-run", "--json")
    summary = json.loads(result.output)
    assert {r["code"] for r in summary["rules"]} >= {"field_count", "invalid_encoding"}
    path = next(export_dir.glob("JUMIN_*.csv"))
    text = path.read_bytes().decode("cp932", errors="replace")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    header = rows[2]  # two metadata rows first
    # bytes CP932 does not define: Python's codec fails on some and maps 0x80, 0xA0, 0xFD-0xFF to
    # these (extract/csv_file.py rejects both)
    invalid = {"\ufffd", "\u0080", "\uf8f0", "\uf8f1", "\uf8f2", "\uf8f3"}
    parsed = [r for r in rows[3:] if len(r) == len(header) and not any(invalid & set(v) for v in r)]
    for c in summary["columns"]:
        k = header.index(c["column"])
        expected = sum(1 for r in parsed if r[k] != "")
        assert c["source"] == expected, c["column"]


def test_an_item_no_run_fed_is_stored_once_a_run_feeds_it(case):
    """DuckDB keeps an item no run has fed as a NULL computed on read; the first run with values
    for it makes it a stored column, and the earlier municipality's rows stay NULL."""
    tmp, mapping = case
    out = tmp / "out"
    assert _run(mapping, tmp / "in", out).exit_code == 0
    generated = "select is_generated from information_schema.columns where table_name = 'resident' and " \
                "column_name = 'given_name_kana'"
    assert query(out, generated)["is_generated"][0] == "ALWAYS"
    other = tmp / "m2.yaml"
    other.write_text(MAP.replace('"991015", name: 桜ヶ丘市', '"991023", name: みどり町')
                     .replace('{value: "991015"}', '{value: "991023"}')
                     .replace("      given_name: 名\n", "      given_name: 名\n      given_name_kana: 名\n"), encoding="utf-8")
    assert _run(other, tmp / "in", out).exit_code == 0
    assert query(out, generated)["is_generated"][0] == "NEVER"
    got = query(out, "select municipality_code, count(given_name_kana) as n, count(*) as rows from resident "
                     "group by 1 order by 1")
    assert got.rows() == [("991015", 0, 4), ("991023", 3, 4)]

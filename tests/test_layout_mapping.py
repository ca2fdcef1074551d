"""Layouts and mappings are data: loading, every problem reported at once, and the pandera schema
built from the layout really failing bad values (data checks on, not schema-only)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import textwrap

import polars as pl
import pytest

from ikou.errors import IkouError
from ikou.layout import available_layouts, load_layout
from ikou.mapping import load_mapping
from ikou.pipeline.findings import most_specific
from ikou.validators.schema import build_schema, failure_issues

from .conftest import MAPPING


def test_resident_layout_is_a_data_file():
    assert "resident" in available_layouts()
    layout = load_layout("resident")
    table = layout.table("resident")
    assert table.item("name").name_ja == "氏名" and table.item("name").profile == "name"
    assert table.item("individual_number").sensitive
    assert table.item("birth_date").is_date and table.item("birth_date").required
    assert ("atena_number", "history_number", "history_branch_number") in table.duplicate_keys
    assert table.optional_key_items == ("history_branch_number",)
    assert table.household is not None and table.household.head_codes == ("02",)
    assert list(table.schema())[:3] == ["municipality_code", "atena_number", "history_number"]
    assert "birth_date_status" in table.schema() and "birth_date_text" in table.schema()


def test_a_new_layout_needs_only_a_file(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(textwrap.dedent("""\
        layout: tiny
        name_ja: 小さな業務
        version: "1"
        code_tables:
          yesno: {name_ja: 有無, codes: {"1": 有, "0": 無}}
        tables:
          tiny:
            name_ja: 小
            items:
              - {id: municipality_code, name_ja: 市区町村コード, type: string, required: true}
              - {id: flag, name_ja: 有無, type: string, profile: code, code_table: yesno}
              - {id: when, name_ja: 日付, type: date}
        """), encoding="utf-8")
    layout = load_layout(str(path))
    schema = build_schema(layout, layout.table("tiny"))
    # the date's _status/_text columns are written by ikou and hold nothing to check
    assert set(schema.schema.columns) == {"municipality_code", "flag", "when"}
    assert {"when_status", "when_text"} <= set(layout.table("tiny").schema())


def test_layout_problems_are_all_reported(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(textwrap.dedent("""\
        layout: bad
        name_ja: 壊れた
        tables:
          t:
            items:
              - {id: a, name_ja: A, type: strin}
              - {id: a, name_ja: A2, type: string, code_table: missing, level: fatal}
              - {id: b, type: string, checks: [{check_digit: luhn}]}
        """), encoding="utf-8")
    with pytest.raises(IkouError) as exc:
        load_layout(str(path))
    text = "\n".join(exc.value.problems)
    for fragment in ("type: 'strin' is not one of", "did you mean 'string'", "'missing' is not defined",
                     "level: 'fatal' is not one of", "check_digit: 'luhn' is not one of",
                     "'a' appears more than once", "missing required key 'name_ja'", "municipality_code"):
        assert fragment in text, fragment


def _frame(**overrides):
    layout = load_layout("resident")
    table = layout.table("resident")
    row = {name: None for name in table.schema()}
    row.update(municipality_code="991015", atena_number="0001000012", history_number=1,
               household_number="0005000017", resident_type="1", resident_status="1",
               resident_code="12345678903", individual_number="123456789018", name="山田　太郎",
               name_kana="ヤマダ\u3000タロウ", sex="1", birth_date=dt.date(1985, 2, 14),
               relationship_code="02", change_reason_code="01", change_date=dt.date(2020, 4, 1))
    row.update(overrides)
    return layout, table, pl.DataFrame([row], schema=table.schema())


def issues_of(**overrides) -> set[tuple[str, str, str]]:
    layout, table, frame = _frame(**overrides)
    # as the pipeline reports them: the most specific code per item
    found = most_specific(failure_issues(build_schema(layout, table), frame))
    return {(r["item"], r["code"], r["level"]) for r in found.iter_rows(named=True)}


def test_a_good_row_passes():
    assert issues_of() == set()


@pytest.mark.parametrize("overrides, expected", [
    ({"resident_code": "12345678904"}, ("resident_code", "check_digit", "error")),
    ({"individual_number": "123456789017"}, ("individual_number", "check_digit", "error")),
    ({"municipality_code": "991016"}, ("municipality_code", "check_digit", "error")),
    ({"resident_code": "1234567890"}, ("resident_code", "invalid_format", "error")),
    ({"sex": "3"}, ("sex", "invalid_code", "error")),
    ({"relationship_code": "77"}, ("relationship_code", "invalid_code", "error")),
    ({"name": None}, ("name", "required_missing", "error")),
    ({"name": "あ" * 101}, ("name", "exceeds_width", "alert")),  # the standard's width: one vendor's, an alert
    ({"individual_number": "1234567890189"}, ("individual_number", "invalid_format", "error")),
    ({"relationship_code": "01"}, ("relationship_code", "forbidden_code", "error")),  # 本人: not in the standard
    ({"name_kana": "やまだ"}, ("name_kana", "invalid_format", "alert")),
    ({"postal_code": "991020A"}, ("postal_code", "invalid_format", "alert")),
    ({"atena_number": "0001000013"}, ("atena_number", "check_digit", "alert")),
])
def test_a_bad_value_really_fails(overrides, expected):
    assert issues_of(**overrides) == {expected}


def test_mapping_loads_into_frozen_dataclasses():
    m = load_mapping(MAPPING)
    assert m.municipality_code == "991015" and m.layout.id == "resident"
    assert m.code_tables["vendor_sex"].codes == {"男": "1", "女": "2"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.municipality_code = "x"


def test_mapping_problems_are_all_reported_at_once(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(textwrap.dedent("""\
        mapping_version: 1
        municipality: {code: "991016"}
        layout: resident
        thresholds: {max_reject_rate: 2}
        dates: {era_codes: "1-6", forms: [wareki_kanji, klingon]}
        sources:
          - name: s
            table: resident
            files: "*.csv"
            encoding: shift_jis
            colour: blue
            items:
              name: {column: 氏名, value: x}
              nickname: 愛称
              sex: {column: 性別, code_table: nope}
              birth_date: {column: 生年月日, pad: 3}
        code_tables:
          bad_sex: {standard: sex, codes: {M: "9"}}
        """), encoding="utf-8")
    with pytest.raises(IkouError) as exc:
        load_mapping(path)
    text = "\n".join(exc.value.problems)
    for fragment in ("wrong check digit", "max_reject_rate", "era_codes", "'klingon'", "write 'cp932'",
                     "unknown key 'colour'", "exactly one of 'column'", "'nickname' is not an item",
                     "'nope' is not defined", "pad", "maps to '9'", "required item atena_number"):
        assert fragment in text, fragment
    assert exc.value.exit_code == 2


def test_mapping_that_is_not_yaml(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("sources: [unclosed\n", encoding="utf-8")
    with pytest.raises(IkouError, match="not valid YAML"):
        load_mapping(path)


@pytest.mark.parametrize("extra, fragment", [
    ("newline: none\n    short_records: pad", "'pad' needs records that end in a newline"),
    ("short_records: truncate", "'truncate' is not one of reject, pad"),
])
def test_short_record_policy_problems(tmp_path, extra, fragment):
    path = tmp_path / "m.yaml"
    path.write_text(textwrap.dedent("""\
        municipality: {code: "991015"}
        layout: resident
        sources:
          - name: s
            table: resident
            files: "*.DAT"
            format: fixed
            record_length: 20
            EXTRA
            fields:
              宛名番号: {offset: 0, length: 10}
            items:
              atena_number: 宛名番号
        """).replace("EXTRA", extra), encoding="utf-8")
    with pytest.raises(IkouError) as exc:
        load_mapping(path)
    assert any(fragment in p for p in exc.value.problems), exc.value.problems


def test_matching_roles_are_checked(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(textwrap.dedent("""\
        layout: m
        tables:
          t:
            items:
              - {id: municipality_code, name_ja: 市区町村コード, type: string}
              - {id: person, name_ja: 宛名番号, type: string}
              - {id: born, name_ja: 生年月日, type: string}
            matching: {person: person, name: nombre, birth_date: born, colour: red}
        """), encoding="utf-8")
    with pytest.raises(IkouError) as exc:
        load_layout(str(path))
    text = "\n".join(exc.value.problems)
    for fragment in ("unknown item 'nombre'", "'born' is not a date item", "unknown key 'colour'"):
        assert fragment in text, fragment


@pytest.mark.parametrize("dedup, fragment", [
    ("{method: fuzzy}", "'fuzzy' is not one of exact, probabilistic"),
    ("{method: probabilistic, auto_merge: 0.8, review: 0.9}", "need 0 < review (0.9) <= auto_merge (0.8)"),
    ("{method: probabilistic, backend: hadoop}", "'hadoop' is not one of duckdb, spark"),
])
def test_dedup_settings_are_checked(tmp_path, dedup, fragment):
    path = tmp_path / "m.yaml"
    text = MAPPING.read_text(encoding="utf-8")
    start = text.index("dedup:\n")
    end = text.index("\n\n", start)
    path.write_text(text[:start] + f"dedup: {dedup}" + text[end:], encoding="utf-8")
    with pytest.raises(IkouError) as exc:
        load_mapping(path)
    assert any(fragment in p for p in exc.value.problems), exc.value.problems

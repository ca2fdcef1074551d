"""The resident layout against the public reconstruction of the 住民基本台帳 基本データリスト
(../shared/standard): read with Python's csv module here, independently of the build script, and
held to what `ikou layouts show resident --json` prints — every item, every code."""

from __future__ import annotations

import csv
import importlib.util
import json
import shutil
import textwrap

import pytest

from ikou.errors import IkouError
from ikou.mapping import load_mapping

from .conftest import ROOT, STANDARD, needs_standard, run_cli

pytestmark = needs_standard
HINTS = {"text": {"string"}, "code": {"string"}, "flag": {"string"}, "time": {"string"}, "integer": {"integer"},
         "date": {"date", "string"}}  # 児童手当受給開始年月 is a year and month, kept as text


def _rows(name: str) -> list[dict[str, str]]:
    with open(STANDARD / name, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))


@pytest.fixture(scope="module")
def shown() -> dict:
    result = run_cli("layouts", "show", "resident", "--json")
    assert result.exit_code == 0
    return json.loads(result.output)


def _builder():
    spec = importlib.util.spec_from_file_location("build_resident_layout", ROOT / "scripts" / "build_resident_layout.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_layout_is_what_the_tsvs_and_the_overlay_give():
    # a corrected TSV or overlay needs `python scripts/build_resident_layout.py` (make generated)
    assert (ROOT / "ikou" / "schemas" / "resident.yaml").read_text(encoding="utf-8") == _builder().build(STANDARD)


def test_every_item_of_the_standard_is_in_the_layout(shown):
    items = shown["tables"]["resident"]["items"]
    by_name = {it["name_ja"]: it for it in items}
    code_names = {ct["name_ja"]: ct_id for ct_id, ct in shown["code_tables"].items()}
    rows = _rows("juki_items.tsv")
    assert len(rows) == 199
    for r in rows:
        it = by_name.get(r["item_ja"])
        assert it is not None, r["item_ja"]
        assert it["group"] == r["group"]
        assert it["type"] in HINTS[r["type_hint"]], (r["item_ja"], it["type"])
        assert it["sources"] == [s for s in r["sources"].split(",") if s]
        assert it["provenance"] in ("attested", "single_source", "provisional")
        if r["width"] and it["type"] == "string":
            assert it["width"] == int(r["width"]), r["item_ja"]
        if r["code_table"] in code_names:
            assert it["code_table"] == code_names[r["code_table"]], r["item_ja"]
        elif r["code_table"]:
            assert it["code_system"] == r["code_table"], r["item_ja"]
        if "[single source" in r["note"] or "[single codebase" in r["note"]:
            assert it["provenance"] in ("single_source", "provisional"), r["item_ja"]
    # nothing beyond the standard but what is marked as ikou's own
    extra = [it for it in items if it["name_ja"] not in {r["item_ja"] for r in rows}]
    assert [it["provenance"] for it in extra] == ["extension"] * len(extra) and len(extra) == 1
    # the order of the standard list is kept
    order = [it["name_ja"] for it in items if it["provenance"] != "extension"]
    assert order == [r["item_ja"] for r in rows]


def test_every_code_of_the_standard_is_in_the_layout(shown):
    tables = {ct["name_ja"]: ct for ct in shown["code_tables"].values()}
    rows = _rows("juki_codes.tsv")
    assert len(rows) == 554 and len({r["code_table"] for r in rows}) == 26 == len(tables)
    for r in rows:
        ct = tables[r["code_table"]]
        assert ct["codes"][r["code"]] == r["name_ja"], (r["code_table"], r["code"])
    assert sum(len(ct["codes"]) for ct in tables.values()) == len(rows)


def test_dates_link_their_unknown_flag_and_text(shown):
    items = {it["id"]: it for it in shown["tables"]["resident"]["items"]}
    birth = items["birth_date"]
    assert (birth["unknown_flag"], birth["unknown_text"]) == ("birth_date_unknown_flag", "birth_date_unknown_text")
    assert items[birth["unknown_flag"]]["name_ja"] == "生年月日_不詳フラグ"
    assert items[birth["unknown_text"]]["name_ja"] == "生年月日_不詳表記"
    assert birth["columns"] == ["birth_date", "birth_date_status", "birth_date_text"]
    # 記載の異動年月日 has a flag but no text item in the standard
    entry = items["entry_change_date"]
    assert entry["unknown_flag"] == "entry_change_date_unknown_flag" and entry["unknown_text"] is None


def test_legacy_relationship_codes_are_never_taken_silently(shown, tmp_path):
    rel = shown["code_tables"]["relationship"]
    assert set(rel["forbidden"]) == {"01", "03", "98"}  # 本人, 準世帯主, 使用人
    text = (ROOT / "mappings" / "sakuragaoka_991015.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "m.yaml"
    bad.write_text(text.replace('"01": "02"   # 世帯主', '"01": "01"   # 本人'), encoding="utf-8")
    with pytest.raises(IkouError) as exc:
        load_mapping(bad)
    assert any("'01' maps to '01' (本人), which the standard does not allow" in p for p in exc.value.problems)


def test_the_build_refuses_a_row_without_a_decision(tmp_path):
    builder = _builder()
    folder = tmp_path / "standard"
    shutil.copytree(STANDARD, folder)
    with open(folder / "juki_items.tsv", "a", encoding="utf-8") as fh:
        fh.write("新しい項目\t基本\ttext\t\t\tMADO-perm\t\n")
    with open(folder / "juki_codes.tsv", "a", encoding="utf-8") as fh:
        fh.write("新しいコード表\t1\t値\tafcodes\t\n")
    with pytest.raises(builder.BuildError) as exc:
        builder.build(folder)
    assert "item 新しい項目 of juki_items.tsv has no entry in the overlay" in str(exc.value)
    assert "code table 新しいコード表 of juki_codes.tsv has no entry in the overlay" in str(exc.value)


def test_layouts_show_marks_provenance_and_forbidden_codes():
    text = run_cli("layouts", "show", "resident").output
    assert "200 items" in text and "01 本人 [not allowed]" in text
    line = next(ln for ln in text.splitlines() if ln.strip().startswith("name_furigana "))
    assert " ? " in line  # provisional
    assert textwrap.dedent("""\
        + ikou's extension""").strip() in text

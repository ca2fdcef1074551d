"""The typed models of the configuration files: JSON Schemas that editors use, every problem of
a file at once with the closest valid key, and relative paths read from the mapping's folder."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import jsonschema
import pytest
import yaml

from ikou.config import json_schema
from ikou.errors import IkouError
from ikou.layout import available_layouts
from ikou.mapping import load_mapping

from .conftest import ROOT, run_cli

SCHEMAS = ROOT / "docs" / "schema"


@pytest.mark.parametrize("kind", ["mapping", "layout", "group"])
def test_the_committed_json_schemas_are_current(kind):
    # docs/schema/*.json are what editors point at: regenerate with `ikou mapping schema --kind KIND`
    assert (SCHEMAS / f"{kind}.schema.json").read_text(encoding="utf-8") == json_schema(kind)
    assert run_cli("mapping", "schema", "--kind", kind).output == json_schema(kind)


def _files(kind: str) -> list[Path]:
    files = sorted((ROOT / "mappings").rglob("*.yaml"))
    if kind == "layout":  # the bundled layouts and the user layouts of the examples
        return [ROOT / "ikou" / "schemas" / f"{n}.yaml" for n in available_layouts()] + \
            [f for f in files if f.parent.name == "layouts"]
    return [f for f in files if f.parent.name != "layouts" and (f.name == "group.yaml") == (kind == "group")]


@pytest.mark.parametrize("kind", ["mapping", "layout", "group"])
def test_every_bundled_file_validates_against_its_json_schema(kind):
    validator = jsonschema.Draft202012Validator(json.loads(json_schema(kind)))
    files = _files(kind)
    assert files
    for path in files:
        errors = [e.message for e in validator.iter_errors(yaml.safe_load(path.read_text(encoding="utf-8")))]
        assert not errors, (path, errors[:3])


def test_the_json_schema_rejects_what_ikou_rejects():
    validator = jsonschema.Draft202012Validator(json.loads(json_schema("mapping")))
    bad = {"municipality": {"code": "991015"}, "layout": "resident",
           "sources": [{"name": "s", "table": "resident", "files": "*.csv", "items": {"name": True},
                        "colour": "blue"}]}
    messages = " ".join(e.message for e in validator.iter_errors(bad))
    assert "colour" in messages and "True" in messages


def _mapping(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "m.yaml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def test_a_mistyped_key_names_the_closest_one(tmp_path):
    path = _mapping(tmp_path, """\
        municipality: {code: "991015"}
        layout: resident
        sources:
          - name: s
            table: resident
            files: "*.csv"
            skip_row: 2
            items: {municipality_code: {colum: 市区町村コード}}
        """)
    with pytest.raises(IkouError) as exc:
        load_mapping(path)
    text = "\n".join(exc.value.problems)
    assert "unknown key 'skip_row' (did you mean 'skip_rows'?)" in text
    assert "unknown key 'colum' (did you mean 'column'?)" in text


def test_an_unquoted_code_is_told_to_be_quoted(tmp_path):
    path = _mapping(tmp_path, """\
        municipality: {code: "991015"}
        layout: resident
        sources: [{name: s, table: resident, files: "*.csv", items: {}}]
        code_tables:
          vendor_sex: {standard: sex, codes: {1: "1"}}
        """)
    with pytest.raises(IkouError) as exc:
        load_mapping(path)
    assert any("write it in quotes" in p for p in exc.value.problems), exc.value.problems


def test_an_item_named_in_japanese_is_pointed_to_its_id(tmp_path):
    path = _mapping(tmp_path, """\
        municipality: {code: "991015"}
        layout: resident
        sources: [{name: s, table: resident, files: "*.csv", items: {氏名: 氏名}}]
        """)
    with pytest.raises(IkouError) as exc:
        load_mapping(path)
    assert any("'氏名' is the Japanese name of item 'name'" in p for p in exc.value.problems), exc.value.problems


TINY_LAYOUT = """\
layout: tiny
name_ja: 小さな業務
tables:
  tiny:
    items:
      - {id: municipality_code, name_ja: 市区町村コード, type: string, required: true}
      - {id: label, name_ja: 名称, type: string}
"""


def test_a_relative_layout_path_is_read_from_the_mapping_folder(tmp_path, monkeypatch):
    (tmp_path / "layouts").mkdir()
    (tmp_path / "layouts" / "tiny.yaml").write_text(TINY_LAYOUT, encoding="utf-8")
    (tmp_path / "mappings").mkdir()
    path = _mapping(tmp_path / "mappings", """\
        municipality: {code: "991015"}
        layout: ../layouts/tiny.yaml
        sources: [{name: s, table: tiny, files: "*.csv", items: {municipality_code: {value: "991015"}}}]
        """)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    # ../layouts lies outside the mapping's folder: refused until the project's root is marked
    with pytest.raises(IkouError) as exc:
        load_mapping(path)
    assert "lies outside" in exc.value.problems[0] and "layout" in exc.value.problems[0]
    (tmp_path / ".ikou-root").write_text("", encoding="utf-8")
    assert load_mapping(path).layout.id == "tiny"
    # a path that does not exist says where it looked
    path.write_text(path.read_text(encoding="utf-8").replace("../layouts", "layouts"), encoding="utf-8")
    with pytest.raises(IkouError) as exc:
        load_mapping(path)
    assert str(tmp_path / "mappings" / "layouts" / "tiny.yaml") in "\n".join(exc.value.problems)

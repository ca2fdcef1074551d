"""Reason and alert codes as data: the catalogue is complete (every code a run emits, every code
the fixtures plant, every code a layout names), ordered as the stages rank, and rendered as the
docs page and in JUnit."""

from __future__ import annotations

import ast

import polars as pl
import pytest

from ikou.layout import load_layout
from ikou.reasons import catalog, priority, reason, render_markdown

from .conftest import ROOT, query


def test_every_code_a_fixture_vendor_run_emits_is_in_the_catalogue(vendor_run):
    out, export_dir = vendor_run
    emitted = set(query(out, "select distinct reason_code c from rejects union select distinct alert_code from alerts "
                             "union select distinct merge_reason from lineage where merge_reason is not null")["c"])
    planted = set(pl.read_csv(export_dir / "expected.csv", infer_schema=False)["code"].drop_nulls())
    assert emitted and planted
    assert emitted - set(catalog()) == set() and planted - set(catalog()) == set()


def _literal_codes() -> set[str]:
    """String literals ikou's source passes where a code goes: ``code=...``, ``pl.lit(x).alias("code")``,
    CheckTag / _flag_issue arguments and the extractors' reject tuples (their first element)."""
    found: set[str] = set()
    for path in (ROOT / "ikou").rglob("*.py"):
        if "fixtures" in path.parts:  # the generators' codes are checked through expected.csv
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.keyword) and node.arg == "code":
                value = node.value
                if isinstance(value, ast.Call) and getattr(value.func, "attr", "") == "lit" and value.args:
                    value = value.args[0]
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    found.add(value.value)
            elif isinstance(node, ast.Call) and getattr(node.func, "id", "") in ("CheckTag", "_flag_issue"):
                i = 1 if node.func.id == "CheckTag" else 3
                if len(node.args) > i and isinstance(node.args[i], ast.Constant):
                    found.add(node.args[i].value)
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "alias"
                  and node.args and getattr(node.args[0], "value", None) == "code"
                  and isinstance(node.func.value, ast.Call) and node.func.value.args
                  and getattr(node.func.value.func, "attr", "") == "lit"
                  and isinstance(node.func.value.args[0], ast.Constant)):
                found.add(node.func.value.args[0].value)
            elif isinstance(node, ast.Tuple) and len(node.elts) >= 3:
                first = [e for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
                if first and first[0].value in {"field_count", "record_length", "unknown_record_type",
                                                "invalid_encoding", "unterminated_quote", "ambiguous_field",
                                                "invalid_number"} | set(catalog()):
                    found.add(first[0].value)
    return found


def test_every_code_written_in_the_source_is_in_the_catalogue():
    codes = _literal_codes()
    assert {"check_digit", "duplicate_conflict", "household_without_head", "field_count", "ambiguous_field"} <= codes
    assert codes - set(catalog()) == set()


def test_every_code_a_bundled_layout_names_is_in_the_catalogue():
    for name in ("resident", "tax"):
        for table in load_layout(name).tables.values():
            for ref in table.references:
                assert reason(ref.code)


def test_a_layout_naming_an_unknown_code_is_refused(tmp_path):
    from ikou.errors import IkouError
    text = (ROOT / "ikou" / "schemas" / "tax.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "tax.yaml"
    bad.write_text(text.replace("code: unknown_taxpayer", "code: unknown_taxpayr"), encoding="utf-8")
    with pytest.raises(IkouError) as exc:
        load_layout(str(bad))
    assert any("unknown_taxpayr" in p and "unknown_taxpayer" in p for p in exc.value.problems)


def test_out_of_range_has_its_message_and_a_rank():
    """tax.yaml's ranges once emitted out_of_range with no message and the lowest priority."""
    assert reason("out_of_range").en == "'{}' lies outside the range the layout allows"
    assert priority()["out_of_range"] < priority()["required_missing"]


def test_every_code_has_both_languages_and_a_kind():
    for r in catalog().values():
        assert r.en.strip() and r.ja.strip() and r.kind in ("reject", "alert", "merge", "either"), r.code
        assert r.en.count("{}") <= 1 and r.ja.count("{}") == r.en.count("{}"), r.code


def test_the_docs_page_is_the_catalogue_rendered():
    assert (ROOT / "docs" / "reasons.md").read_text(encoding="utf-8") == render_markdown(), \
        "docs/reasons.md is stale: make generated"

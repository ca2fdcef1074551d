"""great-expectations export (the optional extra), and that the core path never imports it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import MAPPING, ROOT, run_cli

gx = pytest.importorskip("great_expectations")


def test_the_core_path_never_imports_great_expectations(tmp_path):
    code = f"""
import sys
from click.testing import CliRunner
from ikou.cli import cli
from ikou.fixtures.generator import generate
generate({str(tmp_path / 'in')!r}, residents=1000, seed=2)
r = CliRunner()
for args in (["migrate", "--mapping", {str(MAPPING)!r}, "--input", {str(tmp_path / 'in')!r}, "--out", {str(tmp_path / 'out')!r}],
             ["report", {str(tmp_path / 'out')!r}, "--format", "html"],
             ["validate", "--mapping", {str(MAPPING)!r}, "--input", {str(tmp_path / 'in')!r}]):
    assert r.invoke(cli, args).exit_code in (0, 1), args
print("great_expectations" in sys.modules)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "False"


def test_a_layout_as_an_expectation_suite():
    result = run_cli("gx", "suite", "resident")
    assert result.exit_code == 0, result.output
    suite = json.loads(result.output)
    assert suite["name"] == "ikou.resident.resident" and suite["id"] is None
    by = {}
    for e in suite["expectations"]:
        by.setdefault(e["type"], []).append(e)
    not_null = {e["kwargs"]["column"] for e in by["expect_column_values_to_not_be_null"]}
    assert {"atena_number", "name", "resident_status"} <= not_null
    sex = next(e for e in by["expect_column_values_to_be_in_set"] if e["kwargs"]["column"] == "sex")
    assert sex["kwargs"]["value_set"] == ["0", "1", "2"] and sex["meta"]["name_ja"] == "性別"
    assert [e["kwargs"]["column_list"] for e in by["expect_compound_columns_to_be_unique"]] == [
        ["atena_number", "history_number", "history_branch_number"],
        ["resident_code", "history_number", "history_branch_number"]]
    rel = next(e for e in by["expect_column_values_to_be_in_set"] if e["kwargs"]["column"] == "relationship_code")
    assert "01" not in rel["kwargs"]["value_set"] and "02" in rel["kwargs"]["value_set"]  # 本人: not allowed
    levels = {(e["kwargs"].get("column"), e["severity"]) for e in suite["expectations"] if e["type"] !=
              "expect_table_columns_to_match_set"}
    assert ("sex", "critical") in levels
    # the same layout gives the same bytes, and GX reads the suite back
    assert run_cli("gx", "suite", "resident").output == result.output
    context = gx.get_context(mode="ephemeral")
    suite.pop("id")
    for e in suite["expectations"]:
        e.pop("id")
    loaded = context.suites.add(gx.ExpectationSuite(**suite))
    assert len(loaded.expectations) == len(suite["expectations"])


def test_a_run_as_gx_validation_results_with_data_docs(migrated, tmp_path):
    out, _ = migrated
    result = run_cli("gx", "docs", out, "--dest", tmp_path / "gx")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "gx" / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html").exists()
    stored = list((tmp_path / "gx" / "gx" / "uncommitted" / "validations").rglob("*.json"))
    assert len(stored) == 1
    res = json.loads(stored[0].read_text(encoding="utf-8"))
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    counts = {(r["expectation_config"]["type"], r["expectation_config"]["kwargs"].get("column")):
              r["result"]["unexpected_count"] for r in res["results"]}
    assert counts[("expect_column_values_to_not_be_null", "name")] == 3  # the planted required_missing
    assert counts[("expect_column_values_to_be_in_set", "relationship_code")] == 3  # the unmapped code 77
    unique = [r for r in res["results"] if r["expectation_config"]["type"] == "expect_compound_columns_to_be_unique"]
    assert {r["result"]["unexpected_count"] for r in unique} == {summary["rejects_by_reason"]["duplicate_conflict"]}
    assert all(r["result"]["element_count"] == summary["totals"]["source_records"] for r in res["results"])
    assert not res["success"] and res["meta"]["ikou_run_id"] == summary["run_id"]
    others = res["meta"]["ikou_findings_without_gx_expectation"]
    assert others["check_digit:individual_number"] == 3 and others["field_count"] == 3

"""ikou validate: dry-run validation for CI, thresholds, JUnit XML and the JSON summary."""

from __future__ import annotations

import json

import pytest
from lxml import etree

from tests.conftest import MAPPING, copy_mapping, run_cli


def cases(path) -> dict[str, etree._Element]:
    root = etree.parse(str(path)).getroot()
    assert root.tag == "testsuites" and root.find("testsuite") is not None
    return {f"{c.get('classname')}::{c.get('name')}": c for c in root.iter("testcase")}


def failed(path) -> set[str]:
    return {k for k, c in cases(path).items() if c.find("failure") is not None or c.find("error") is not None}


@pytest.fixture(scope="module")
def within(export_dir, tmp_path_factory):
    d = tmp_path_factory.mktemp("validate")
    result = run_cli("validate", "--mapping", MAPPING, "--input", export_dir, "--dry-run", "--junit", d / "j.xml",
                     "--summary-json", d / "s.json")
    return d, result


def test_within_thresholds_passes_and_lands_nothing(within, export_dir):
    d, result = within
    assert result.exit_code == 0, result.output
    assert failed(d / "j.xml") == set()
    summary = json.loads((d / "s.json").read_text(encoding="utf-8"))
    assert summary["dry_run"] and summary["reconciled"] and summary["exit_code"] == 0
    assert sorted(p.name for p in export_dir.iterdir()) == ["JUMIN_991015_20261101.csv", "expected.csv"]
    all_cases = cases(d / "j.xml")
    # one case per rule that caught records, each with its count and first places
    rules = {k: c for k, c in all_cases.items() if k.startswith("ikou.rules.")}
    assert len(rules) == len(summary["rules"]) and summary["rules"]
    cd = rules["ikou.rules.reject::check_digit (individual_number)"]
    said, counted = cd.findtext("system-out").split("\n", 1)
    assert said == "'…' has a wrong check digit / '…' のチェックデジットが誤っています"  # from the catalogue
    assert counted.startswith("3 record(s) rejected; first at JUMIN_991015_20261101.csv:")
    assert "ikou.thresholds::max_reject_rate <= 2.0000%" in all_cases
    assert "ikou.reconciliation::JUMIN_991015_20261101.csv: every source record has one fate" in all_cases


def test_a_rule_limit_fails_exactly_that_rule(exact_mapping, export_dir, tmp_path):
    result = run_cli("validate", "--mapping", exact_mapping, "--input", export_dir, "--junit", tmp_path / "j.xml",
                     "--max-rule", "check_digit=0")
    assert result.exit_code == 1 and "rules.check_digit: 9 (max 0): OVER THRESHOLD" in result.output
    assert failed(tmp_path / "j.xml") == {
        "ikou.thresholds::rules.check_digit <= 0",
        "ikou.rules.reject::check_digit (individual_number)",
        "ikou.rules.reject::check_digit (previous_municipality_code)",
        "ikou.rules.reject::check_digit (resident_code)"}


def test_alert_thresholds_from_the_mapping(export_dir, tmp_path):
    mapping = copy_mapping(tmp_path, **{"max_reject_rate: 0.02 ": "max_reject_rate: 0.02\n  max_alerts: 17 "})
    assert "max_alerts: 17" in mapping.read_text(encoding="utf-8")
    result = run_cli("validate", "--mapping", mapping, "--input", export_dir, "--junit", tmp_path / "j.xml", "--json")
    assert result.exit_code == 1
    summary = json.loads(result.output)
    assert summary["thresholds"]["checks"][-1] == {"name": "max_alerts", "limit": 17, "actual": 18, "passed": False}
    bad = failed(tmp_path / "j.xml")
    assert "ikou.thresholds::max_alerts <= 17" in bad
    assert {k for k in bad if k.startswith("ikou.rules.alert::")} == {
        k for k in cases(tmp_path / "j.xml") if k.startswith("ikou.rules.alert::")}
    assert not {k for k in bad if k.startswith("ikou.rules.reject::")}
    # the command line overrides the mapping
    assert run_cli("validate", "--mapping", mapping, "--input", export_dir, "--max-alerts", "18").exit_code == 0


def test_a_broken_mapping_is_one_error_case_listing_every_problem(export_dir, tmp_path):
    mapping = copy_mapping(tmp_path, **{"name: 氏名": "name: 氏名X", "birth_date: 生年月日": "birth_date: 生年月日X"})
    result = run_cli("validate", "--mapping", mapping, "--input", export_dir, "--junit", tmp_path / "j.xml")
    assert result.exit_code == 2
    (case,) = cases(tmp_path / "j.xml").values()
    error = case.find("error")
    assert error is not None and "氏名X" in error.text and "生年月日X" in error.text


def test_threshold_values_are_checked_in_the_mapping(tmp_path, export_dir):
    mapping = copy_mapping(tmp_path, **{"max_reject_rate: 0.02 ": "max_alert_rate: 3\n  max_alerts: -1\n"
                                                                  "  rules: {check_digit: x} "})
    result = run_cli("validate", "--mapping", mapping, "--input", export_dir)
    assert result.exit_code == 2
    for fragment in ("max_alert_rate: input should be less than or equal to 1 (got 3)",
                     "max_alerts: input should be greater than or equal to 0 (got -1)",
                     "rules.check_digit: input should be a valid integer (got 'x')"):
        assert fragment in result.output, fragment


def test_bad_rule_option_is_a_usage_error(exact_mapping, export_dir):
    result = run_cli("validate", "--mapping", exact_mapping, "--input", export_dir, "--max-rule", "check_digit")
    assert result.exit_code == 2 and "CODE=N" in result.output

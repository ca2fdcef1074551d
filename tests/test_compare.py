"""Rehearsals compared (ikou/reconciliation/compare.py): two runs of one municipality and 業務,
the second with a mapping that no longer maps one legacy code and with a scope rule; what
changed is counted here with Python's csv module, not with ikou."""

from __future__ import annotations

import csv
import io
import json

import pytest

from ikou.fixtures.generator import generate
from tests.conftest import copy_mapping, query, run_cli

SCOPE = """
scope:
  - name: foreign_residents
    table: resident
    when: [{item: resident_type, in: ["2"]}]
"""


def _column_counts(export, column: str) -> dict[str, int]:
    text = next(export.glob("JUMIN_*.csv")).read_bytes().decode("cp932", "replace")
    rows = list(csv.reader(io.StringIO(text)))
    at = next(i for i, r in enumerate(rows) if r and not r[0].startswith("#"))
    i = rows[at].index(column)
    counts: dict[str, int] = {}
    for r in rows[at + 1:]:
        if len(r) == len(rows[at]):
            counts[r[i]] = counts.get(r[i], 0) + 1
    return counts


@pytest.fixture(scope="module")
def rehearsals(tmp_path_factory):
    d = tmp_path_factory.mktemp("compare")
    generate(d / "in", residents=2000, seed=5)
    out = d / "out"
    (d / "a").mkdir()
    first = copy_mapping(d / "a")
    r1 = run_cli("migrate", "--mapping", first, "--input", d / "in", "--out", out, "--json")
    (d / "b").mkdir()
    # the second rehearsal: 続柄 code 04 (子) no longer mapped (rejected), foreigners out of scope
    second = copy_mapping(d / "b")
    text = second.read_text(encoding="utf-8")
    assert '"04": "20"' in text
    second.write_text(text.replace('"04": "20"', '"04x": "20"') + SCOPE, encoding="utf-8")
    r2 = run_cli("migrate", "--mapping", second, "--input", d / "in", "--out", out, "--json")
    return d, out, json.loads(r1.output), json.loads(r2.output)


def test_two_rehearsals_side_by_side(rehearsals):
    d, out, a, b = rehearsals
    result = run_cli("report", out, "--compare", a["run_id"], b["run_id"], "--format", "json")
    assert result.exit_code == 0, result.output
    c = json.loads(result.output)
    assert c["mapping_changed"] and c["a"]["run_id"] == a["run_id"] and c["b"]["run_id"] == b["run_id"]
    got = {(x["section"], x["key"]): (x["a"], x["b"], x["delta"]) for x in c["changes"]}
    for k in ("source_records", "landed", "rejected", "merged", "excluded"):
        assert got[("totals", k)][:2] == (a["totals"][k], b["totals"][k])
    assert got[("totals", "source_records")][2] == 0
    relationship = _column_counts(d / "in", "続柄")
    foreign = _column_counts(d / "in", "住民種別")["G"]
    assert b["totals"]["excluded"] > 0 and b["excluded_by_rule"] == {"foreign_residents": b["totals"]["excluded"]}
    assert b["totals"]["excluded"] <= foreign  # foreigners a row rule rejects stay rejected
    assert got[("excluded", "foreign_residents")] == (None, b["totals"]["excluded"], b["totals"]["excluded"])
    # the records with 続柄 04 are rejected now (a row rule: before scope, so foreign children too)
    unmapped = got[("reject", "unmapped_code")]
    assert 0 < unmapped[2] <= relationship["04"]
    assert "vendor_relationship.relationship_code=04" in c["newly_unmapped"]
    text = run_cli("report", out, "--compare", a["run_id"][:24], b["run_id"], "--changed-only").output
    assert "the mapping changed between the runs" in text and "unmapped_code" in text
    assert "vendor_relationship.relationship_code=04" in text
    assert "source_records" not in text.split("totals:")[1].split("\n\n")[0]  # unchanged: left out


def test_a_comparison_needs_two_runs_of_one_municipality_and_layout(rehearsals, tmp_path):
    d, out, a, b = rehearsals
    missing = run_cli("report", out, "--compare", a["run_id"], "no-such-run")
    assert missing.exit_code == 2 and "no run(s) matching 'no-such-run'" in missing.output
    runs = query(out, "select run_id from runs")["run_id"].to_list()
    assert len(runs) == 2
    ambiguous = run_cli("report", out, "--compare", "2", b["run_id"])
    assert ambiguous.exit_code == 2 and "2 run(s) matching '2'" in ambiguous.output

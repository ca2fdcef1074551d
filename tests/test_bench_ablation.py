"""bench/ablation.py (the benchmark's "what if this part cost nothing" runs) still replaces each
part it names: a stub that silently stopped applying would make its numbers a lie."""

from __future__ import annotations

import json
import subprocess
import sys

import duckdb

from tests.conftest import ROOT, copy_mapping

ABLATION = ROOT / "bench" / "ablation.py"


def _run(parts: str, mapping, export_dir, out) -> dict:
    proc = subprocess.run([sys.executable, str(ABLATION), "--without", parts, "--", "migrate", "--mapping",
                           str(mapping), "--input", str(export_dir), "--out", str(out), "--json"],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    return json.loads(proc.stdout)


def _codes(summary: dict) -> set[str]:
    return set(summary["rejects_by_reason"]) | set(summary["alerts"]["by_code"])


def test_each_stub_takes_away_its_part_and_the_run_still_reconciles(export_dir, migrated, tmp_path):
    mapping = copy_mapping(tmp_path)
    full = json.loads((migrated[0] / "summary.json").read_text(encoding="utf-8"))
    assert full["cleansing_changes_by_rule"] and full["gaiji"]["unmapped"] and "check_digit" in _codes(full)

    summary = _run("pandera,changes,gaiji,duckdb_table", mapping, export_dir, tmp_path / "out")
    assert summary["reconciled"]
    assert not summary["cleansing_changes_by_rule"]  # cleansing still ran: only its rows are gone
    assert not summary["gaiji"]["mapped"] and not summary["gaiji"]["unmapped"]
    assert "check_digit" not in _codes(summary)  # reported by pandera only
    assert "invalid_date" in _codes(summary)
    con = duckdb.connect(str(tmp_path / "out" / "ikou.duckdb"), read_only=True)
    try:
        tables = {r[0] for r in con.sql("select table_name from information_schema.tables").fetchall()}
    finally:
        con.close()
    assert "resident" not in tables and {"rejects", "lineage", "cleansing_changes", "runs"} <= tables

    summary = _run("cleanse", mapping, export_dir, tmp_path / "out_cleanse")
    # a split is a transformation of the mapping, not cleansing: it still keeps its originals
    assert summary["reconciled"] and set(summary["cleansing_changes_by_rule"]) <= {"split"}
    date_codes = {"invalid_date", "impossible_date", "unknown_date"}
    assert date_codes <= _codes(full) and not date_codes & _codes(summary)
    assert "check_digit" in _codes(summary)


def test_an_unknown_part_is_refused():
    proc = subprocess.run([sys.executable, str(ABLATION), "--without", "speed", "--", "migrate"],
                          capture_output=True, text=True)
    assert proc.returncode != 0 and "unknown part" in proc.stderr


def test_the_script_names_the_parts_the_pipeline_can_take_away():
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import ablation
    finally:
        sys.path.pop(0)
    from ikou.pipeline.state import ABLATABLE, RunOptions

    assert tuple(ablation.PARTS) == ABLATABLE
    import pytest
    with pytest.raises(ValueError, match="unknown part"):
        RunOptions(mapping=ROOT, input_dir=ROOT, out=None, without=frozenset({"speed"}))

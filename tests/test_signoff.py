"""Sign-off (検証責任, issue 18): who accepted which run; void once the run is replaced or its
landed data changed."""

from __future__ import annotations

import json
import shutil

import duckdb

from tests.conftest import MAPPING, copy_mapping, run_cli


def _report(out) -> dict:
    result = run_cli("report", out, "--format", "json")
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.output)


def test_a_signoff_holds_until_the_run_is_replaced(export_dir, tmp_path):
    out = tmp_path / "out"
    mapping = copy_mapping(tmp_path)
    assert run_cli("migrate", "--mapping", mapping, "--input", export_dir, "--out", out).exit_code in (0, 1)
    run_id = _report(out)["municipalities"][0]["run_id"]
    seen = tmp_path / "report.html"
    assert run_cli("report", out, "--format", "html", "--output", seen).exit_code in (0, 1)
    result = run_cli("signoff", out, "--run", run_id, "--role", "vendor", "--by", "サクラ情報システム 山田",
                     "--report", seen)
    assert result.exit_code == 0, result.output
    assert run_cli("signoff", out, "--run", run_id, "--role", "municipality", "--by", "桜ヶ丘市 市民課").exit_code == 0
    signoffs = _report(out)["signoffs"]
    assert [(s["role"], s["valid"]) for s in signoffs] == [("vendor", True), ("municipality", True)]
    import hashlib
    assert signoffs[0]["report_sha256"] == hashlib.sha256(seen.read_bytes()).hexdigest()
    text = run_cli("report", out).output
    assert "sign-offs" in text and "サクラ情報システム 山田" in text and "valid" in text
    # a rerun replaces the run: both sign-offs are void, naming the new run
    assert run_cli("migrate", "--mapping", mapping, "--input", export_dir, "--out", out).exit_code in (0, 1)
    report = _report(out)
    new_run = report["municipalities"][0]["run_id"]
    assert new_run != run_id
    assert all(not s["valid"] and s["why"] == f"run replaced by {new_run}" for s in report["signoffs"])
    # a replaced run cannot be signed
    result = run_cli("signoff", out, "--run", run_id, "--role", "vendor", "--by", "x")
    assert result.exit_code == 2 and "not the latest run" in result.output


def test_a_signoff_is_void_when_the_landed_data_changed(migrated, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(migrated[0], out)
    run_id = _report(out)["municipalities"][0]["run_id"]
    assert run_cli("signoff", out, "--run", run_id, "--role", "municipality", "--by", "市民課").exit_code == 0
    assert _report(out)["signoffs"][0]["valid"]
    con = duckdb.connect(str(out / "ikou.duckdb"))  # someone edits a landed name by hand
    con.execute("update resident set name = name || '　' where atena_number = (select min(atena_number) from resident)")
    con.close()
    signoff = _report(out)["signoffs"][0]
    assert not signoff["valid"] and signoff["why"] == "the landed data changed since"
    assert MAPPING.exists()

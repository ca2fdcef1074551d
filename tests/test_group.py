"""自治体クラウド group runs (ikou migrate-group): three members, three vendors, resident and tax
each, into one OUT; ground truth per record; money to the yen; a broken member fails alone."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import polars as pl
import pytest
import yaml

from ikou.fixtures.group import generate_group
from tests.conftest import ROOT, query, run_cli

GROUP = ROOT / "mappings" / "sakura_cloud" / "group.yaml"
FOLDERS = {"991015": "sakura", "991023": "midori", "991031": "wakaba"}


@pytest.fixture(scope="module")
def group_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("group")
    exports = generate_group(d / "in", scale=0.3)
    out = d / "out"
    result = run_cli("migrate-group", GROUP, "--input-root", d / "in", "--out", out, "--json", "--jobs", "3")
    return d, exports, out, result


def fates(out: Path, code: str, layout: str) -> dict[str, set[int]]:
    rows = query(out, f"select l.source_line, l.fate from lineage l join runs r using (run_id) "
                      f"where l.municipality_code = '{code}' and r.layout = '{layout}'")
    rejected = query(out, f"select j.source_line from rejects j join runs r using (run_id) "
                          f"where j.municipality_code = '{code}' and r.layout = '{layout}'")
    return {"merged": set(rows.filter(pl.col("fate") == "merged")["source_line"].to_list()),
            "rejected": set(rejected["source_line"].to_list())}


def test_every_member_lands_with_the_planted_fates(group_run):
    d, exports, out, result = group_run
    summary = json.loads(result.output)
    assert summary["succeeded"] == ["991015", "991023", "991031"] and summary["failed"] == []
    assert json.loads((out / "group_summary.json").read_text(encoding="utf-8")) == summary
    for member in summary["members"]:
        code = member["municipality_code"]
        assert set(member["layouts"]) == {"resident", "tax"}
        for layout, truth_file in (("resident", "expected.csv"), ("tax", "expected_tax.csv")):
            run = member["layouts"][layout]
            assert run["source_records"] == run["landed"] + run["rejected"] + run["merged"]
            truth = pl.read_csv(d / "in" / FOLDERS[code] / truth_file)
            found = fates(out, code, layout)
            for fate in ("rejected", "merged"):
                expected = set(truth.filter(pl.col("fate") == fate)["line"].to_list())
                assert found[fate] == expected, (code, layout, fate, sorted(found[fate] ^ expected)[:10])
    # the group totals are the sum of the members'
    keys = ("source_records", "landed", "rejected", "merged", "excluded")
    assert summary["totals"] == {k: sum(m["totals"][k] for m in summary["members"]) for k in keys}


def test_money_reconciles_to_the_yen_against_the_export(group_run):
    """Source sums per 年度, 税目, 期別 equal the amounts written in the files; landed + rejected +
    merged equal them."""
    d, exports, out, result = group_run
    runs = query(out, "select municipality_code, summary from runs where layout = 'tax'")
    for code, text in runs.rows():
        s = json.loads(text)
        assert s["money_reconciled"]
        rows = exports[FOLDERS[code]][1].rows
        ok = rows.filter(pl.col("_bad").is_null())
        truth = {(int(r["期別"]), str(r["徴収区分"])): r["調定額"]
                 for r in ok.group_by("期別", "徴収区分").agg(pl.col("調定額").sum()).iter_rows(named=True)}
        codes = {"991015": {"普徴": "1", "特徴": "2"}, "991023": {"F": "1", "T": "2"}, "991031": {"01": "1", "02": "2"}}
        got = {}
        for m in s["money"]:
            if m["item"] == "assessed_amount":
                got[(m["by"]["instalment"], m["by"]["tax_type"])] = m["source"]
                assert m["source"] == m["landed"] + m["rejected"] + m["merged"]
        # the file's amounts by legacy code; the unknown code and 期別 13 rows stay with their group
        mapped = {}
        for (inst, legacy), v in truth.items():
            key = (inst, codes[code].get(legacy))
            mapped[key] = mapped.get(key, 0) + v
        assert got == mapped, code


def test_group_code_tables_and_a_member_override(group_run):
    """The group's relationship table converts every member's legacy 10 (同居人) to 99, but みどり町
    overrides it to 96; the landed records follow."""
    d, exports, out, result = group_run
    coverage = query(out, "select municipality_code, standard_code, records from code_coverage "
                          "where item = 'relationship_code' and legacy_code = '10'")
    assert {(c, s) for c, s, n in coverage.rows() if n} == {("991015", "99"), ("991023", "96"), ("991031", "99")}
    lodgers = query(out, "select municipality_code, count(*) n from resident where relationship_code = '96' "
                         "group by all")
    assert dict(lodgers.rows()).get("991023", 0) >= dict(coverage.select("municipality_code", "records").rows())["991023"]


def test_volumes_per_member_and_gyomu(group_run):
    _, _, out, result = group_run
    summary = json.loads(result.output)
    for layout in ("resident", "tax"):
        shares = [v for v in summary["volumes"] if v["layout"] == layout]
        assert abs(sum(v["share"] for v in shares) - 1) < 1e-5 and len(shares) == 3
    text = run_cli("report", out).output
    assert "3" in text and "tax" in text


def test_a_member_with_a_broken_mapping_fails_alone(group_run, tmp_path):
    d, _, _, _ = group_run
    broken = tmp_path / "group"
    shutil.copytree(GROUP.parent, broken / "sakura_cloud")
    (broken / ".ikou-root").write_text("", encoding="utf-8")  # the project: the group names ../ mappings
    for f in ("sakuragaoka_991015.yaml", "midori_991023.yaml", "wakaba_991031.yaml"):
        shutil.copy(ROOT / "mappings" / f, broken / f)
    tax = broken / "sakura_cloud" / "midori_tax.yaml"
    tax.write_text(tax.read_text(encoding="utf-8").replace("調定額: {offset: 18", "調定額X: {offset: 18"),
                   encoding="utf-8")
    out = tmp_path / "out"
    result = run_cli("migrate-group", broken / "sakura_cloud" / "group.yaml", "--input-root", d / "in", "--out", out,
                     "--json")
    summary = json.loads(result.output)
    assert result.exit_code == 2 and summary["failed"] == ["991023"]
    assert summary["succeeded"] == ["991015", "991031"]
    failed = next(m for m in summary["members"] if m["municipality_code"] == "991023")
    assert "調定額" in failed["error"] and "midori_tax.yaml" in failed["error"]
    # its resident run landed before the tax mapping failed; the others landed whole
    landed = query(out, "select r.municipality_code, r.layout from runs r order by all").rows()
    assert landed == [("991015", "resident"), ("991015", "tax"), ("991023", "resident"), ("991031", "resident"),
                      ("991031", "tax")]


def test_a_broken_group_file_lists_every_problem(tmp_path):
    bad = tmp_path / "group.yaml"
    raw = yaml.safe_load(GROUP.read_text(encoding="utf-8"))
    raw["members"][0]["code_tables"]["nonexistent_table"] = "relationship"
    raw["members"][1]["code_tables"]["midori_relationship"] = "no_such_group_table"
    raw["members"][2]["code"] = "991015"
    raw["members"][2]["mappings"] = ["missing.yaml"]
    bad.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    result = run_cli("migrate-group", bad, "--out", tmp_path / "out")
    assert result.exit_code == 2
    for fragment in ("'nonexistent_table'", "'no_such_group_table' is not a group code table",
                     "municipality 991015 appears more than once", "missing.yaml does not exist",
                     "overrides.relationship: the member uses no group code table"):
        assert fragment in result.output, fragment
    assert not (tmp_path / "out").exists()


def die_as(code: str, point: str, value):
    """A group's fault: the worker running member ``code`` dies at once (as under the OOM killer)."""
    if point == "member" and value == code:
        os._exit(9)
    return value


def test_a_worker_that_dies_fails_its_member_and_the_summary_is_written(group_run, tmp_path):
    """A worker killed by the OOM killer raised BrokenProcessPool from the group: no
    group_summary.json, and "nothing was landed" although other members had committed."""
    import functools

    d, _, _, _ = group_run
    out = tmp_path / "out"
    result = run_cli("migrate-group", GROUP, "--input-root", d / "in", "--out", out, "--json", "--jobs", "2",
                     fault=functools.partial(die_as, "991023"))
    summary = json.loads(result.output)
    assert result.exit_code == 2 and "991023" in summary["failed"]
    assert "died" in next(m["error"] for m in summary["members"] if m["municipality_code"] == "991023")
    assert json.loads((out / "group_summary.json").read_text(encoding="utf-8"))["failed"] == summary["failed"]
    committed = set(query(out, "select distinct municipality_code from runs")["municipality_code"].to_list())
    assert committed == set(summary["succeeded"]) and "991023" not in committed


def _running(pid: str) -> bool:
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _children(pid: int) -> list[str]:
    """Process ids whose parent is ``pid`` (from /proc: no pgrep needed)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(entry)
    return found


def test_killing_the_group_ends_its_workers(group_run, tmp_path):
    """Killing migrate-group's process left its workers landing every member on their own."""
    import signal
    import subprocess
    import sys
    import time

    d, _, _, _ = group_run
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "ikou", "migrate-group", str(GROUP), "--input-root",
                             str(d / "in"), "--out", str(out), "--jobs", "2"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 30
    while not _children(proc.pid) and time.time() < deadline:  # until the workers are running members
        time.sleep(0.2)
    time.sleep(1.5)
    children = _children(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 20
    alive = children
    while alive and time.time() < deadline:
        time.sleep(0.5)
        alive = [pid for pid in children if _running(pid)]
    assert children and not alive, f"workers {alive} outlived the group"
    # whatever landed, OUT is one consistent state once the next command has tidied it
    if (out / "ikou.duckdb").exists():
        report = run_cli("report", out)
        # killed before any member committed, the tidied OUT holds nothing: said so, exit 2
        assert report.exit_code in (0, 1) or (report.exit_code == 2 and "no committed run" in report.output), \
            report.output
        assert not any((out / ".staging").iterdir())


def test_one_out_per_member_reported_together(group_run, tmp_path):
    """A group run with one OUT per member: `ikou report OUT-A OUT-B` is the report of the members'
    shared OUT (every member's counts, recounted from its own OUT), in every format."""
    d, _, shared, _ = group_run
    outs = []
    for code in ("991015", "991023"):
        outs.append(tmp_path / f"out-{code}")
        r = run_cli("migrate-group", GROUP, "--input-root", d / "in", "--out", outs[-1], "--member", code, "--jobs", "1")
        assert r.exit_code in (0, 1), r.output  # 1: a member over its reject threshold, landed
    together = run_cli("report", *outs, "--format", "json")
    assert together.exit_code == 0, together.output
    merged = json.loads(together.output)
    whole = json.loads(run_cli("report", shared, "--format", "json").output)
    sections = {(m["municipality_code"], m["layout"]): m["totals"] for m in merged["municipalities"]}
    assert set(sections) == {(c, lay) for c in ("991015", "991023") for lay in ("resident", "tax")}
    assert sections == {(m["municipality_code"], m["layout"]): m["totals"] for m in whole["municipalities"]
                        if m["municipality_code"] in ("991015", "991023")}
    assert merged["totals"]["source_records"] == sum(t["source_records"] for t in sections.values())
    assert merged["group"] is None and merged["out"] == "out-991015, out-991023"
    # the detail tables add up the OUTs' rows: every reject of both members
    tables = tmp_path / "tables"
    assert run_cli("report", *outs, "--format", "csv", "--output", tables).exit_code == 0
    rejects = pl.read_csv(tables / "rejects.csv", infer_schema=False)
    assert rejects.group_by("municipality_code").len().sort("municipality_code")["len"].to_list() == [
        sum(t["rejected"] for (c, _), t in sections.items() if c == code) for code in ("991015", "991023")]
    assert run_cli("report", *outs, "--format", "xlsx", "--output", tmp_path / "r.xlsx").exit_code == 0


def test_the_same_municipality_in_two_outs_is_refused(group_run, tmp_path):
    _, _, shared, _ = group_run
    copy = tmp_path / "copy"
    shutil.copytree(shared, copy)
    r = run_cli("report", shared, copy)
    assert r.exit_code == 2 and "991015" in r.output and "copy" in r.output, r.output
    r = run_cli("report", shared, copy, "--compare", "a", "b")
    assert r.exit_code == 2 and "--compare" in r.output, r.output

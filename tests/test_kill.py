"""kill -9 at random moments of `ikou migrate`: afterwards (once the next ikou command has tidied
OUT) OUT holds exactly one committed state, the old run or the new one, never a mix: DuckDB's
tables, the Parquet partitions and summary.json all describe the same run.

A few seeded kill points in CI; `make fuzz` runs IKOU_KILL_POINTS of them (e.g. 100)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from ikou.fixtures.generator import generate

from .conftest import copy_mapping, run_cli

POINTS = int(os.environ.get("IKOU_KILL_POINTS", "6"))


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("kill")
    generate(d / "in", residents=3000, seed=21)
    mapping = copy_mapping(d)
    args = [sys.executable, "-m", "ikou", "migrate", "--mapping", str(mapping), "--input", str(d / "in")]
    t = time.perf_counter()
    first = subprocess.run([*args, "--out", str(d / "timing")], capture_output=True, text=True)
    assert first.returncode in (0, 1), first.stderr
    return d, args, time.perf_counter() - t


def one_state(out: Path) -> str:
    """The committed run OUT describes, checked across DuckDB, Parquet and summary.json."""
    assert run_cli("report", out, "--format", "json").exit_code in (0, 1)  # recovers, then re-reconciles
    assert not any((out / ".staging").iterdir()), "a staged run was left behind"
    con = duckdb.connect(str(out / "ikou.duckdb"), read_only=True)
    try:
        runs = [r[0] for r in con.execute("select run_id from runs order by finished_at, run_id").fetchall()]
        latest = runs[-1]
        for table in ("resident", "rejects", "alerts", "lineage", "cleansing_changes", "code_coverage"):
            ids = {r[0] for r in con.execute(f"select distinct run_id from {table}").fetchall()} if table != \
                "resident" else {latest}
            assert ids <= {latest}, f"{table} mixes runs {ids}"
        rows = con.execute("select count(*) from resident").fetchall()[0][0]
        parquet = con.execute("select count(*) from read_parquet(?)",
                              [str(out / "parquet/resident/municipality_code=991015/*.parquet")]).fetchall()[0][0]
    finally:
        con.close()
    assert rows == parquet, f"DuckDB holds {rows} resident rows, the Parquet partition {parquet}"
    assert json.loads((out / "summary.json").read_text(encoding="utf-8"))["run_id"] == latest
    return latest


@pytest.mark.parametrize("seed", range(POINTS))
def test_a_kill_at_any_moment_leaves_one_state(setup, tmp_path, seed):
    d, args, seconds = setup
    out = tmp_path / "out"
    assert subprocess.run([*args, "--out", str(out)], capture_output=True).returncode in (0, 1)
    old = one_state(out)
    delay = random.Random(seed).uniform(0.3, seconds * 1.1)
    proc = subprocess.Popen([*args, "--out", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    now = one_state(out)
    con = duckdb.connect(str(out / "ikou.duckdb"), read_only=True)
    try:
        committed = {r[0] for r in con.execute("select run_id from runs").fetchall()}
    finally:
        con.close()
    # the old state, or the new run committed whole (killed after its commit: recovery finished it)
    assert now == old or (committed == {old, now})
    print(f"kill {seed} after {delay:.2f} s of ~{seconds:.1f}: {'old' if now == old else 'new'} state")


GROUP_POINTS = max(2, POINTS // 3)


@pytest.mark.parametrize("seed", range(GROUP_POINTS))
def test_a_kill_of_a_group_run_leaves_each_member_in_one_state(tmp_path, seed):
    """kill -9 of `ikou migrate-group` at a random moment: its workers end with it, and OUT holds,
    for every member, one committed state (the report's recount from OUT finds no difference);
    group_summary.json, where written, names as succeeded only members whose runs committed."""
    from ikou.fixtures.group import generate_group

    from .conftest import ROOT

    generate_group(tmp_path / "in", scale=0.1)
    out = tmp_path / "out"
    args = [sys.executable, "-m", "ikou", "migrate-group", str(ROOT / "mappings/sakura_cloud/group.yaml"),
            "--input-root", str(tmp_path / "in"), "--out", str(out), "--jobs", "2"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(random.Random(100 + seed).uniform(2.0, 14.0))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(2)  # the workers end with the group's process (PR_SET_PDEATHSIG)
    if not (out / "ikou.duckdb").exists():
        print(f"group kill {seed}: killed before any member committed")
        return  # nothing landed, nothing to check
    result = run_cli("report", out, "--format", "json")
    if not (out / "ikou.duckdb").exists():  # killed inside the first landing: recovery removed it
        assert result.exit_code == 2 and "no committed run" in result.output, result.output
        print(f"group kill {seed}: killed inside the first landing; OUT holds no database")
        return
    assert result.exit_code in (0, 1), result.output  # 3 would be a difference between OUT and its runs
    assert not any((out / ".staging").iterdir())
    con = duckdb.connect(str(out / "ikou.duckdb"), read_only=True)
    try:
        committed = {r[0] for r in con.execute("select distinct municipality_code from runs").fetchall()}
        run_ids = {r[0] for r in con.execute("select run_id from runs").fetchall()}
    finally:
        con.close()
    if (out / "group_summary.json").exists():
        assert set(json.loads((out / "group_summary.json").read_text(encoding="utf-8"))["succeeded"]) <= committed
    if (out / "summary.json").exists():
        assert json.loads((out / "summary.json").read_text(encoding="utf-8"))["run_id"] in run_ids
    print(f"group kill {seed}: {len(run_ids)} run(s) of {len(committed)} member(s) committed")

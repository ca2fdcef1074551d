"""migrate-group --scheduler: the bundled group on a local Dask cluster of two worker processes
lands exactly what the local pool lands; the largest member is scheduled first; a member whose
worker dies is reported failed, the others land, and it can be rerun alone."""

from __future__ import annotations

import functools
import json

import pytest

from ikou.fixtures.group import generate_group
from tests.conftest import ROOT, run_cli
from tests.conftest import query as query_now
from tests.test_group import die_as

GROUP = ROOT / "mappings" / "sakura_cloud" / "group.yaml"
distributed = pytest.importorskip("distributed")  # a test extra: installed by make test


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    d = tmp_path_factory.mktemp("cluster")
    generate_group(d / "in", scale=0.1)
    return d / "in"


@pytest.fixture(scope="module")
def cluster():
    import dask

    # a lost worker fails its task at once (the default retries it on another worker three times)
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                      silence_logs=40) as local:
            yield local


def query(out, sql: str):
    """OUT queried right after a cluster run: a worker process may take a moment to let go of
    OUT's database file (DuckDB's lock is per process), so a lock conflict is retried briefly."""
    import time

    import duckdb

    for _ in range(30):
        try:
            return query_now(out, sql)
        except duckdb.IOException as exc:
            if "lock" not in str(exc):
                raise
            time.sleep(0.5)
    return query_now(out, sql)


def landed(out) -> dict[tuple[str, str], int]:
    rows = query(out, "select r.municipality_code, r.layout, count(*) as n from lineage l join runs r using (run_id) "
                      "where l.fate = 'landed' group by all")
    return {(c, lay): n for c, lay, n in rows.iter_rows()}


def test_the_group_on_a_cluster_lands_what_the_local_pool_lands(exports, cluster, tmp_path):
    local = run_cli("migrate-group", GROUP, "--input-root", exports, "--out", tmp_path / "local", "--json")
    assert local.exit_code in (0, 1), local.output
    result = run_cli("migrate-group", GROUP, "--input-root", exports, "--out", tmp_path / "dask", "--json",
                     "--scheduler", cluster.scheduler_address)
    assert result.exit_code == local.exit_code, result.output
    summary = json.loads(result.output)
    assert summary["succeeded"] == ["991015", "991023", "991031"] and summary["jobs"] == 2
    assert landed(tmp_path / "dask") == landed(tmp_path / "local")  # (after the query: the workers let go of OUT)
    assert run_cli("report", tmp_path / "dask").exit_code == 0  # reconciled, money included


def test_members_are_scheduled_largest_first(exports):
    from ikou.group import load_group
    from ikou.group_cluster import input_bytes, largest_first

    members = load_group(GROUP, exports).members
    ordered = largest_first(members)
    sizes = [input_bytes(m) for m in ordered]
    assert sizes == sorted(sizes, reverse=True) and ordered[0].code == "991031"  # 若葉村: XML, the largest export


def test_a_member_whose_worker_dies_fails_alone_and_reruns(exports, cluster, tmp_path):
    out = tmp_path / "out"
    result = run_cli("migrate-group", GROUP, "--input-root", exports, "--out", out, "--json",
                     "--scheduler", cluster.scheduler_address, fault=functools.partial(die_as, "991023"))
    summary = json.loads(result.output)
    assert result.exit_code == 2 and summary["failed"] == ["991023"], result.output
    error = next(m["error"] for m in summary["members"] if m["municipality_code"] == "991023")
    assert "worker running member 991023 was lost" in error and "--member 991023" in error
    committed = set(query(out, "select distinct municipality_code from runs")["municipality_code"].to_list())
    assert committed == {"991015", "991031"}
    again = run_cli("migrate-group", GROUP, "--input-root", exports, "--out", out, "--json", "--member", "991023",
                    "--scheduler", cluster.scheduler_address)
    assert again.exit_code in (0, 1) and json.loads(again.output)["succeeded"] == ["991023"]
    assert set(query(out, "select distinct municipality_code from runs")["municipality_code"].to_list()) == {
        "991015", "991023", "991031"}


def test_an_unreachable_scheduler_is_a_users_error(exports, tmp_path):
    result = run_cli("migrate-group", GROUP, "--input-root", exports, "--out", tmp_path / "out",
                     "--scheduler", "tcp://127.0.0.1:1")
    assert result.exit_code == 2 and "cannot reach the Dask scheduler" in result.output


def test_a_scheduler_without_workers_is_a_users_error(exports, tmp_path):
    with distributed.LocalCluster(n_workers=0, processes=False, dashboard_address=None, silence_logs=40) as empty:
        result = run_cli("migrate-group", GROUP, "--input-root", exports, "--out", tmp_path / "out",
                         "--scheduler", empty.scheduler_address)
    assert result.exit_code == 2 and "has no workers" in result.output

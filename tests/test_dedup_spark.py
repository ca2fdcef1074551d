"""dedup.backend: spark — splink's Spark backend in local mode — finds the duplicates the DuckDB
backend finds (issue 17). Needs pyspark (the `spark` extra, part of the test extras) and Java."""

from __future__ import annotations

import shutil

import pytest

from ikou.fixtures.generator import generate

from .conftest import copy_mapping, query, run_cli

pytest.importorskip("pyspark", reason="pyspark is not installed (pip install 'ikou[spark]')")
pytestmark = pytest.mark.skipif(shutil.which("java") is None, reason="no Java on this machine: Spark needs a JDK 17+")


def _merges(tmp_path, folder, backend: str) -> set[tuple[int, int]]:
    mapping = copy_mapping(tmp_path / backend, dedup="probabilistic",
                           **{"  method: probabilistic\n": f"  method: probabilistic\n  backend: {backend}\n"})
    out = tmp_path / backend / "out"
    result = run_cli("migrate", "--mapping", mapping, "--input", folder, "--out", out, "--json")
    assert result.exit_code == 0, result.output
    assert f'"backend": "{backend}"' in result.output
    rows = query(out, "select source_line, survivor_line from lineage where merge_reason = 'probable_duplicate'")
    return set(zip(rows["source_line"].to_list(), rows["survivor_line"].to_list()))


def test_spark_backend_finds_the_duckdb_backends_duplicates(tmp_path):
    folder = tmp_path / "export"
    generate(folder, residents=1500, seed=13, defects=False, hard_duplicates=0.04)
    (tmp_path / "duckdb").mkdir()
    (tmp_path / "spark").mkdir()
    on_duckdb = _merges(tmp_path, folder, "duckdb")
    on_spark = _merges(tmp_path, folder, "spark")
    assert len(on_duckdb) >= 30
    assert on_spark == on_duckdb

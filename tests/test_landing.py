"""Landing details below the end-to-end tests: how DuckDB stores the landed tables."""

from __future__ import annotations

import duckdb
import polars as pl

from ikou.pipeline import landing


def _staged(tmp_path, rows: int = 5000):
    path = tmp_path / "staged.parquet"
    pl.DataFrame({
        "municipality_code": ["991015"] * rows,
        "resident_code": [f"{i:011d}" for i in range(rows)],  # every value distinct
        "sex": [("1", "2", "9")[i % 3] for i in range(rows)],  # three values
        "_rid": list(range(rows)),
    }).write_parquet(path)
    return path


def _compression(con, table: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for column, method in con.execute(f"select column_name, compression from pragma_storage_info('{table}') "
                                      "where segment_type = 'VARCHAR'").fetchall():
        found.setdefault(column, set()).add(method)
    return found


def test_mostly_distinct_text_is_stored_with_zstd_and_the_rest_with_duckdbs_choice(tmp_path):
    con = duckdb.connect(str(tmp_path / "t.duckdb"))
    landing._replace_partition(con, "resident", [str(_staged(tmp_path))], "991015")
    con.execute("checkpoint")
    methods = _compression(con, "resident")
    assert methods["resident_code"] == {"ZSTD"}
    assert "ZSTD" not in methods["sex"] and "ZSTD" not in methods["municipality_code"]
    assert con.execute("select count(*), count(distinct resident_code), min(resident_code) from resident"
                       ).fetchone() == (5000, 5000, "00000000000")
    assert "_rid" not in {r[0] for r in con.execute("describe resident").fetchall()}


def test_a_database_whose_storage_version_lacks_zstd_still_lands(tmp_path):
    con = duckdb.connect()
    con.execute(f"attach '{tmp_path / 'old.duckdb'}' as old (storage_version 'v0.10.0')")
    con.execute("use old")
    landing._replace_partition(con, "resident", [str(_staged(tmp_path))], "991015")
    con.execute("checkpoint")
    assert "ZSTD" not in _compression(con, "resident")["resident_code"]
    assert con.execute("select count(*) from resident").fetchone() == (5000,)


def test_a_small_first_run_leaves_the_choice_to_duckdb(tmp_path):
    con = duckdb.connect(str(tmp_path / "t.duckdb"))
    landing._replace_partition(con, "resident", [str(_staged(tmp_path, rows=50))], "991015")
    con.execute("checkpoint")
    assert "ZSTD" not in _compression(con, "resident")["resident_code"]

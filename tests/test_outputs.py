"""The run tables' one declaration (ikou/pipeline/outputs.py): what lands in DuckDB is what it
declares, column for column and type for type, and docs/outputs.md lists the same columns."""

from __future__ import annotations

import re

import duckdb
import polars as pl
import pytest

from ikou.pipeline.outputs import OPEN_ENDED, RUN_TABLES, conform

from .conftest import ROOT

DUCKDB_TYPES = {pl.String: "VARCHAR", pl.Int64: "BIGINT", pl.Float64: "DOUBLE", pl.Boolean: "BOOLEAN",
                pl.Binary: "BLOB"}


def test_the_landed_run_tables_are_as_declared(vendor_run):
    out, _ = vendor_run
    con = duckdb.connect(str(out / "ikou.duckdb"), read_only=True)
    try:
        for table, declared in RUN_TABLES.items():
            got = [(r[0], r[1]) for r in con.execute(f'describe "{table}"').fetchall()]
            want = [(c, DUCKDB_TYPES[t]) for c, t in declared.items()]
            assert (got[:len(want)] if table in OPEN_ENDED else got) == want, table
    finally:
        con.close()


def test_the_docs_list_the_declared_columns():
    text = (ROOT / "docs" / "outputs.md").read_text(encoding="utf-8")
    for table, declared in RUN_TABLES.items():
        row = re.search(rf"^\| `{table}` \|[^|]*\| `([^`]*)`", text, re.M)
        assert row, f"docs/outputs.md has no row for {table}"
        listed = [re.sub(r"\s*\(.*", "", c).strip() for c in row.group(1).split(",")]
        assert listed == list(declared), table


def test_a_writer_that_drifts_from_the_declaration_is_stopped():
    good = dict(RUN_TABLES["alerts"]) | {"_rid": pl.Int64}
    conform("alerts", good)
    with pytest.raises(RuntimeError, match="alerts"):
        conform("alerts", {**good, "value": pl.Int64})
    with pytest.raises(RuntimeError, match="alerts"):
        conform("alerts", {k: v for k, v in good.items() if k != "message"})

"""DuckDB connections as ikou opens them."""

from __future__ import annotations

from pathlib import Path

import duckdb


def connect(path: str | Path = ":memory:", read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A connection without DuckDB's progress bar, which it draws on standard output: that is
    where `--json` writes its results."""
    con = duckdb.connect(str(path), read_only=read_only)
    con.execute("set enable_progress_bar = false")
    return con


def quote_ident(name: str) -> str:
    """A table or column name as a DuckDB identifier (double quotes, inner quotes doubled): the
    export's column names are Japanese and may hold anything."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: object) -> str:
    """A text (a path …) as a DuckDB string literal (inner quotes doubled): for the statements that
    take no parameters (SET, COPY … TO, a read_parquet path list)."""
    return "'" + str(value).replace("'", "''") + "'"

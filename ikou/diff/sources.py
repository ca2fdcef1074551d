"""The two sides of a parallel-run diff, each made a DuckDB view: CSV (CP932 or UTF-8), Parquet,
a table in a DuckDB file, or any legacy export through a mapping (fixed-width, XML, CSV).

DuckDB reads UTF-8 CSV and Parquet itself, streaming. CP932 has no DuckDB decoder, so a CP932
CSV is decoded to a UTF-8 copy in a work folder, chunk by chunk (bounded memory). An export read
through a mapping goes through ikou's own extractor, chunk by chunk into Parquet, with the
legacy field names as columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from ikou.db import quote_ident
from ikou.errors import IkouError
from ikou.extract.decoding import transcode
from ikou.i18n import tr

CHUNK = 16 * 1024 * 1024
WRONG_ENCODING = "give the file's real encoding with --left-encoding / --right-encoding"


@dataclass(frozen=True)
class Side:
    """Where one side's data is and how to read it."""
    path: Path
    encoding: str = "auto"  # CSV: auto | cp932 | utf-8 | utf-8-sig
    skip_rows: int = 0  # CSV: rows before the header (metadata)
    delimiter: str = ","
    table: str | None = None  # DuckDB file: the table (or view) to compare
    mapping: Path | None = None  # read PATH (a folder) through this mapping's sources

    @property
    def kind(self) -> str:
        if self.mapping is not None:
            return "mapping"
        suffix = self.path.suffix.lower()
        if self.path.is_dir() or suffix == ".parquet" or "*" in self.path.name:
            return "parquet"
        if suffix in (".duckdb", ".db", ".ddb"):
            return "duckdb"
        return "csv"

    def describe(self) -> str:
        extra = {"duckdb": f" table {self.table}", "mapping": f" via mapping {self.mapping}"}.get(self.kind, "")
        return f"{self.path} ({self.kind}{extra})"


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def register(con: duckdb.DuckDBPyConnection, view: str, side: Side, work: Path) -> list[str]:
    """Create view ``view`` over the side's rows (every CSV field as text); returns its columns."""
    kind = side.kind
    if kind != "parquet" and not side.path.exists():
        raise IkouError(tr("{path} does not exist", path=side.path), hint=tr("check --left / --right"))
    if kind == "parquet":
        target = side.path / "**" / "*.parquet" if side.path.is_dir() else side.path
        sql = f"select * from read_parquet({_lit(str(target))}, hive_partitioning = true, hive_types_autocast = false)"
    elif kind == "duckdb":
        if not side.table:
            raise IkouError(tr("{path} is a DuckDB file: name the table to compare", path=side.path),
                            hint=tr("--left-table / --right-table, e.g. resident"))
        alias = f"db_{view}"
        con.execute(f"attach {_lit(str(side.path))} as {alias} (read_only)")
        tables = {r[0] for r in con.execute(
            f"select table_name from information_schema.tables where table_catalog = {_lit(alias)}").fetchall()}
        if side.table not in tables:
            raise IkouError(tr("{path} has no table {table!r}", path=side.path, table=side.table), problems=sorted(tables),
                            hint=tr("one of the tables listed"))
        sql = f"select * from {alias}.{quote_ident(side.table)}"
    elif kind == "mapping":
        sql = f"select * from read_parquet({_lit(str(_extract_with_mapping(side, work / view)))})"
    else:
        sql = _csv_sql(side, work / f"{view}.utf8.csv")
    try:
        con.execute(f"create or replace temp view {view} as {sql}")
        return [r[0] for r in con.execute(f"describe {view}").fetchall()]
    except duckdb.Error as exc:
        raise IkouError(tr("{describe} cannot be read: {value}",
                           describe=side.describe(), value=str(exc).splitlines()[0]),
                        hint=tr("check the file's format, encoding (--left-encoding / --right-encoding) and "
                                "metadata rows before the header (--left-skip-rows / --right-skip-rows)")) from exc


def _csv_sql(side: Side, utf8_copy: Path) -> str:
    encoding = side.encoding
    if encoding == "auto":
        from ikou.inspect import guess_encoding
        with side.path.open("rb") as f:
            encoding, _ = guess_encoding(f.read(1 << 20))
    if encoding not in ("utf-8", "utf-8-sig", "utf8"):
        transcode(side.path, encoding, utf8_copy, hint=WRONG_ENCODING)
        path = utf8_copy
    else:
        transcode(side.path, "utf-8", None, hint=WRONG_ENCODING)  # checked only: DuckDB reads the file itself
        path = side.path
    return (f"select * from read_csv({_lit(str(path))}, header = true, all_varchar = true, "
            f"skip = {side.skip_rows}, delim = {_lit(side.delimiter)}, quote = '\"', escape = '\"', "
            f"strict_mode = true, null_padding = false)")


def _extract_with_mapping(side: Side, folder: Path) -> Path:
    """Every record of the mapping's sources under side.path, as Parquet with the legacy field
    names (text) plus source_file and source_line. Undecodable records stop the diff."""
    import polars as pl

    from ikou.mapping import load_mapping
    from ikou.pipeline.check import find_source_files

    mapping = load_mapping(side.mapping)
    folder.mkdir(parents=True, exist_ok=True)
    n = 0
    for f in find_source_files(mapping, side.path, CHUNK):
        f.extractor.read_header()
        for chunk in f.extractor.chunks():
            if chunk.rejects.height:
                first = chunk.rejects.row(0, named=True)
                raise IkouError(tr("{display}: record at byte offset {_offset} cannot be read: {message}",
                                   display=f.display, _offset=first['_offset'],
                                   message=first['message']), hint=tr("diff compares readable records only: fix or cut it"))
            # _raw (an XML or workbook record's raw form) is ikou's, not the export's data
            frame = chunk.frame.drop("_offset", "_length", "_raw", strict=False).rename({"_line": "source_line"}).with_columns(
                source_file=pl.lit(f.display))
            frame.write_parquet(folder / f"part-{n:05d}.parquet")
            n += 1
    if n == 0:
        raise IkouError(tr("no records under {path} for mapping {mapping}", path=side.path, mapping=side.mapping))
    return folder / "*.parquet"

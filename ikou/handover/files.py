"""Reading a hand-over file back as text columns, for its totals: `ikou export` takes the
manifest's records, hash totals and money sums on the file it has just written, and
`ikou verify-handover` takes them again on the file it received, through this one reader."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import duckdb
import polars as pl

from ikou.errors import IkouError
from ikou.handover.record_layout import fixed_values, layout_from_manifest
from ikou.layout import Table
from ikou.reconciliation.totals import HashTotal, MoneySum, hash_totals, key_items, money_sums

CHUNK = 1 << 20


def sha256_of(path: Path) -> tuple[int, str]:
    h, size = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        while block := fh.read(CHUNK):
            h.update(block)
            size += len(block)
    return size, h.hexdigest()


def file_totals(con: duckdb.DuckDBPyConnection, path: Path, fmt: str, encoding: str, table: Table,
                items: tuple[str, ...], record_layout: dict | None
                ) -> tuple[int, tuple[str, ...], tuple[HashTotal, ...], tuple[MoneySum, ...]]:
    """(records, the columns found, hash totals, money sums) of one hand-over file."""
    ja = {it.id: it.name_ja for it in table.items}
    wanted = set(key_items(table)) | {it.id for it in table.items if it.type == "money"}
    with tempfile.TemporaryDirectory(prefix="ikou-handover-") as tmp:
        if fmt == "csv":
            source, found = _csv_view(con, path, encoding, Path(tmp))
            by_item = dict(zip(items, found)) if len(found) == len(items) else {}
        else:
            source, found = _fixed_view(con, path, record_layout, wanted)
            by_item = {c: c for c in found}
        records = con.execute(f"select count(*) from {source}").fetchall()[0][0]
        # a CSV whose columns are not the manifest's gets no totals (the columns say why)
        hashes = tuple(hash_totals(con, table, source, None, ja, by_item))
        sums = tuple(money_sums(con, table, source, None, ja, by_item))
    return records, found, hashes, sums


def _csv_view(con: duckdb.DuckDBPyConnection, path: Path, encoding: str, tmp: Path) -> tuple[str, tuple[str, ...]]:
    text_path = path
    if encoding == "cp932":  # DuckDB reads UTF-8: a decoded copy in a private temporary folder
        text_path = tmp / "decoded.csv"
        try:
            with open(path, "rb") as src, open(text_path, "w", encoding="utf-8", newline="") as dst:
                while block := src.read(CHUNK):
                    while True:  # a block must not end inside a two-byte character
                        try:
                            dst.write(block.decode("cp932"))
                            break
                        except UnicodeDecodeError as exc:
                            if exc.start < len(block) - 1:
                                raise
                            more = src.read(1)
                            if not more:
                                raise
                            block += more
        except UnicodeDecodeError as exc:
            raise IkouError(f"{path.name}: not CP932 at a byte near offset {exc.start}") from exc
    quoted = str(text_path).replace("'", "''")
    name = "handover_csv"
    try:
        con.execute(f"create or replace temp table {name} as select * from read_csv('{quoted}', header = true, "
                    f"all_varchar = true, delim = ',', quote = '\"', escape = '\"', strict_mode = true)")
    except duckdb.Error as exc:
        raise IkouError(f"{path.name}: not a CSV file ikou can read: {str(exc).splitlines()[0]}") from exc
    columns = tuple(r[0] for r in con.execute(f"describe {name}").fetchall())
    return name, columns


def _fixed_view(con: duckdb.DuckDBPyConnection, path: Path, record_layout: dict | None,
                wanted: set[str]) -> tuple[str, tuple[str, ...]]:
    if record_layout is None:
        raise IkouError(f"{path.name}: a fixed-width file without its record layout in the manifest")
    layout = layout_from_manifest(record_layout)
    stride = layout.record_length
    data = path.read_bytes()
    if len(data) % stride:
        raise IkouError(f"{path.name}: {len(data)} bytes are not whole records of {stride} bytes "
                        f"({len(data) // stride} records and {len(data) % stride} bytes over)")
    cols = [s.item for s in layout.slots if s.item in wanted]
    rows = [fixed_values(layout, data[i:i + stride]) for i in range(0, len(data), stride)]
    frame = pl.DataFrame({c: [r[c] for r in rows] for c in cols}, schema={c: pl.String for c in cols})
    name = "handover_fixed"
    con.register("handover_frame", frame.to_arrow())
    con.execute(f"create or replace temp table {name} as select * from handover_frame")
    con.unregister("handover_frame")
    return name, tuple(s.item for s in layout.slots)

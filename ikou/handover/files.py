"""Reading a hand-over file back as text columns, for its totals: `ikou export` takes the
manifest's records, hash totals and money sums on the file it has just written, and
`ikou verify-handover` takes them again on the file it received, through this one reader."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import duckdb
import polars as pl

from ikou.db import quote_ident
from ikou.errors import IkouError
from ikou.extract.decoding import transcode
from ikou.handover.record_layout import fixed_values, layout_from_manifest
from ikou.i18n import tr
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
        transcode(path, "cp932", text_path, hint="the manifest says CP932: the file was changed or re-encoded")
    quoted = str(text_path).replace("'", "''")
    name = "handover_csv"
    try:
        con.execute(f"create or replace temp table {name} as select * from read_csv('{quoted}', header = true, "
                    f"all_varchar = true, delim = ',', quote = '\"', escape = '\"', strict_mode = true)")
    except duckdb.Error as exc:
        raise IkouError(tr("{name}: not a CSV file ikou can read: {value}",
                           name=path.name, value=str(exc).splitlines()[0])) from exc
    columns = tuple(r[0] for r in con.execute(f"describe {name}").fetchall())
    return name, columns


def _fixed_view(con: duckdb.DuckDBPyConnection, path: Path, record_layout: dict | None,
                wanted: set[str]) -> tuple[str, tuple[str, ...]]:
    if record_layout is None:
        raise IkouError(tr("{name}: a fixed-width file without its record layout in the manifest", name=path.name))
    layout = layout_from_manifest(record_layout)
    stride = layout.record_length
    size = path.stat().st_size
    if size % stride:
        raise IkouError(tr("{name}: {size} bytes are not whole records of {stride} bytes ({value} records and "
                           "{value2} bytes over)",
                           name=path.name, size=size, stride=stride, value=size // stride, value2=size % stride))
    cols = [s.item for s in layout.slots if s.item in wanted]
    schema = {c: pl.String for c in cols}
    name = "handover_fixed"
    con.execute(f"create or replace temp table {name} ({', '.join(quote_ident(c) + ' varchar' for c in cols)})"
                if cols else f"create or replace temp table {name} (_record integer)")
    per_block = max(1, CHUNK // stride)
    with open(path, "rb") as fh:  # a block of whole records at a time: memory stays flat
        while block := fh.read(per_block * stride):
            rows = [fixed_values(layout, block[i:i + stride], cols) for i in range(0, len(block), stride)]
            frame = pl.DataFrame({c: [r[c] for r in rows] for c in cols} if cols else {"_record": [0] * len(rows)},
                                 schema=schema or {"_record": pl.Int32})
            con.register("handover_frame", frame.to_arrow())
            con.execute(f"insert into {name} select * from handover_frame")
            con.unregister("handover_frame")
    return name, tuple(s.item for s in layout.slots)

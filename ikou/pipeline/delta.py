"""A delta run (差分移行): ``ikou migrate … --delta-from RUN`` migrates the new export in full, as
any run, and says by each table's row key what changed since RUN landed (ikou/delta_counts.py).

Input (frozen, decided by ``check`` before anything is written): ``DeltaBase``, the run the delta
starts from: the latest run of the same municipality and layout in OUT (or in another OUT
folder), its landed partition per table. ``snapshot`` keeps the base run's lineage (where each
landed row came from) in the staging folder before the landing transaction replaces it.

Output: the run table ``delta`` (outputs.py): one row per inserted, changed or deleted row, with
its key, the items that changed, and where it came from (this run's source record; a deleted
row's record in the base run), and for a deleted row whether this run read its key at all
(``absent``: purged from the export) or read it and did not land it (``not_landed``: rejected,
merged or excluded this time; the summary warns, as the receiver would delete the row). Unchanged rows are counted, not listed. OUT holds the current
state after the run, as after any run; ``ikou export --delta`` writes the delta as hand-over
files. The comparison runs in DuckDB over the two Parquet partitions, spilling to the staging
folder: memory stays bounded whatever the size of the tables."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from ikou.db import connect, quote_ident, quote_literal
from ikou.delta_counts import DeltaSummary, TableDelta
from ikou.errors import ExitCode, IkouError
from ikou.i18n import tr
from ikou.layout import Table
from ikou.mapping import Mapping
from ikou.pipeline import landing, outputs

PREVIOUS_LINEAGE = "delta/previous_lineage.parquet"
DELTA_MEMORY = "512MB"


@dataclass(frozen=True)
class DeltaBase:
    run_id: str
    folder: Path  # the OUT the base run is landed in
    partitions: tuple[tuple[str, Path], ...]  # (table, its landed partition folder)

    def partition(self, table: str) -> Path:
        return dict(self.partitions)[table]


def resolve_base(mapping: Mapping, out: Path | None, delta_from: str | None) -> DeltaBase | None:
    """The run a delta starts from, checked before anything is written: ``delta_from`` is a run id
    landed in ``out``, or the path of an OUT folder (its latest run of this municipality and
    layout). Every problem stops the run with exit 2."""
    if delta_from is None:
        return None
    given = Path(delta_from)
    folder = given if given.is_dir() else out
    run_id = None if given.is_dir() else delta_from
    if folder is None:
        raise IkouError(tr("--delta-from {delta_from}: a run id needs --out (the folder the run is landed in)",
                           delta_from=delta_from),
                        hint=tr("give --out, or the path of the OUT folder the earlier run is landed in"))
    db = folder / landing.DB_NAME
    if not db.is_file():
        raise IkouError(tr("--delta-from {delta_from}: {folder} holds no {DB_NAME}",
                           delta_from=delta_from, folder=folder, DB_NAME=landing.DB_NAME),
                        hint=tr("give the run id of an earlier `ikou migrate` into --out, or the folder it landed in"))
    code, layout = mapping.municipality_code, mapping.layout.id
    with landing.locked(folder):
        con = connect(db, read_only=True)
        try:
            has_runs = con.execute("select count(*) from information_schema.tables where table_name = 'runs'"
                                   ).fetchall()[0][0]
            runs = [r[0] for r in con.execute(
                "select run_id from runs where municipality_code = ? and layout = ? "
                "order by finished_at desc, run_id desc", [code, layout]).fetchall()] if has_runs else []
        finally:
            con.close()
    if not runs:
        raise IkouError(tr("--delta-from {delta_from}: {folder} holds no run of municipality {code}, layout "
                           "{layout}",
                           delta_from=delta_from, folder=folder, code=code, layout=layout),
                        hint=tr("a delta starts from an earlier run of the same municipality and 業務"))
    if run_id is not None and run_id != runs[0]:
        known = run_id in runs
        raise IkouError(
            tr("--delta-from {run_id}: its landed rows in {folder} were replaced by run {latest}",
               run_id=run_id, folder=folder, latest=runs[0]) if known else
            tr("--delta-from {run_id}: {folder} holds no such run of municipality {code}, layout {layout}",
               run_id=run_id, folder=folder, code=code, layout=layout),
            hint=tr("OUT keeps the latest run per municipality and layout: start from {value}, or give the "
                    "folder where the earlier run is still landed (e.g. the rehearsal's OUT)",
                    value=runs[0]))
    tables = sorted({s.table for s in mapping.sources})
    parts, missing = [], []
    for t in tables:
        part = folder / "parquet" / t / f"municipality_code={code}"
        if not any(part.glob("*.parquet")):
            missing.append(t)
        parts.append((t, part))
    if missing:
        raise IkouError(tr("--delta-from {delta_from}: run {value} landed no rows of {values} in {folder}",
                           delta_from=delta_from, value=runs[0], values=', '.join(missing), folder=folder),
                        hint=tr("a delta compares table by table: start from a run that landed the same tables"))
    return DeltaBase(runs[0], folder, tuple(parts))


def snapshot(base: DeltaBase | None, work: Path, held: Path | None = None) -> None:
    """Keep the base run's landed lineage in the staging folder (the landing transaction replaces
    it in OUT). ``held``: the OUT whose lock the caller holds already (not taken twice)."""
    if base is None:
        return
    target = work / PREVIOUS_LINEAGE
    target.parent.mkdir(parents=True, exist_ok=True)

    def copy() -> None:
        con = connect(base.folder / landing.DB_NAME, read_only=True)
        try:
            _same_base(con, base)
            con.execute(f"copy (select target_table, target_key, source_file, source_line from lineage "
                        f"where run_id = ? and fate = 'landed') to {quote_literal(target)} (format parquet)",
                        [base.run_id])
        finally:
            con.close()
    if held is not None and held.resolve() == base.folder.resolve():
        copy()
    else:
        with landing.locked(base.folder):
            copy()


def _same_base(con, base: DeltaBase) -> None:
    latest = next(iter(con.execute("select run_id, municipality_code, layout from runs where run_id = ?",
                                   [base.run_id]).fetchall()), None)
    newer = next(iter(con.execute("select run_id from runs where municipality_code = ? and layout = ? "
                                  "order by finished_at desc, run_id desc limit 1", list(latest[1:])).fetchall()),
                 None) if latest else None
    if newer is None or newer[0] != base.run_id:
        raise IkouError(tr("--delta-from {run_id}: another run landed in {folder} meanwhile ({value})",
                           run_id=base.run_id, folder=base.folder,
                           value=newer[0] if newer else 'none'), hint=tr("rerun the delta from the run landed now"))


def compared_columns(table: Table, present: set[str]) -> list[str]:
    """The columns a change is looked for in: every item of the layout except the row key, a date's
    status with it (its text is the export's spelling, not a value), extras left out (the vendor's
    columns beyond the layout)."""
    key = set(table.row_key)
    cols = []
    for it in table.items:
        if it.id in key:
            continue
        cols.append(it.id)
        if it.is_date:
            cols.append(f"{it.id}_status")
    return [c for c in cols if c in present]


def key_expr(table: Table, alias: str) -> str:
    """The row's key as lineage writes it (``atena_number=…;history_number=…``, a blank part left out)."""
    parts = [f"'{k}=' || cast({alias}.{quote_ident(k)} as varchar)" for k in _key(table)]
    return f"concat_ws(';', {', '.join(parts)})"


def _key(table: Table) -> tuple[str, ...]:
    return tuple(table.row_key) or (table.items[0].id,)


def write_delta(work: Path, base: DeltaBase | None, tables: dict[str, Table], stamp: tuple[str, str],
                path: Path) -> dict[str, int]:
    """The ``delta`` run table at ``path`` (empty without a base); returns per table the unchanged
    rows the comparison counted. ``stamp``: (run id, municipality code)."""
    schema = outputs.columns("delta")
    if base is None:
        pl.DataFrame(schema=schema).write_parquet(path)
        return {}
    con = connect()
    spill = work / "delta" / "spill"
    spill.mkdir(parents=True, exist_ok=True)
    con.execute(f"set memory_limit = '{DELTA_MEMORY}'")
    con.execute(f"set temp_directory = {quote_literal(spill)}")
    unchanged: dict[str, int] = {}
    parts = []
    try:
        lineage_now = quote_literal(work / "out" / "lineage.parquet")
        lineage_before = quote_literal(work / PREVIOUS_LINEAGE)
        for table_id, table in sorted(tables.items()):
            prev = f"read_parquet({quote_literal(base.partition(table_id) / '*.parquet')}, hive_partitioning = false)"
            curr = f"read_parquet({quote_literal(work / 'out' / 'parquet' / table_id / '*' / '*.parquet')}, " \
                   f"hive_partitioning = false)"
            types_p = dict(con.execute(f"select column_name, column_type from (describe select * from {prev})").fetchall())
            types_c = dict(con.execute(f"select column_name, column_type from (describe select * from {curr})").fetchall())
            missing = [k for k in _key(table) if k not in types_p or k not in types_c]
            if missing:
                raise IkouError(tr("{table_id}: the row key {values} is not in both landed tables",
                                   table_id=table_id, values=', '.join(missing)),
                                exit_code=ExitCode.BAD_INPUT)
            cols = compared_columns(table, set(types_p) & set(types_c))

            def value(alias: str, c: str) -> str:
                v = f"{alias}.{quote_ident(c)}"
                return v if types_p[c] == types_c[c] else f"cast({v} as varchar)"
            diff = ", ".join(f"case when {value('p', c)} is distinct from {value('c', c)} then '{c}' end" for c in cols)
            key_json = "json_object(" + ", ".join(f"'{k}', cast(x.{quote_ident(k)} as varchar)"
                                                  for k in _key(table)) + ")"
            # narrow first: per side the key and a 64-bit hash of the compared values (a wide join
            # of two million-row tables of 250 columns does not fit a bounded memory); values are
            # compared one by one only for the keys whose hash differs
            for side, src in (("p", prev), ("c", curr)):
                con.execute(f"create or replace temp view {side} as select {key_expr(table, 'x')} as __key, "
                            f"{key_json} as __key_values, * from {src} x")
                hashed = ", ".join(value("x", c) for c in cols) or "null"
                con.execute(f"create or replace temp table h{side} as select {key_expr(table, 'x')} as __key, "
                            f"hash({hashed}) as __h from {src} x")
                dup = con.execute(f"select __key, count(*) from h{side} group by 1 having count(*) > 1 "
                                  f"order by 1 limit 3").fetchall()
                if dup:
                    which = "the base run's" if side == "p" else "this run's"
                    raise IkouError(tr("{table_id}: a delta needs a unique row key ({values}), but {which} "
                                       "landed rows repeat keys (first: {values2})",
                                       table_id=table_id, values=', '.join(_key(table)), which=which,
                                       values2=', '.join((d[0] or '(blank)' for d in dup))),
                                    hint=tr("a delta compares by the row key; migrate in full (without --delta-from)"),
                                    exit_code=ExitCode.BAD_INPUT)
            con.execute("""create or replace temp table k as
                select coalesce(hc.__key, hp.__key) as __key,
                       case when hp.__key is null then 'inserted' when hc.__key is null then 'deleted'
                            when hp.__h <> hc.__h then 'changed' end as __kind
                from hp full outer join hc on hp.__key = hc.__key""")
            con.execute("drop table hp; drop table hc")
            # the rows of the keys found changed, inserted or deleted, whole (few): filtered by a
            # semi join whose build side is the small key list
            for side, kinds in (("c", "'inserted', 'changed'"), ("p", "'deleted', 'changed'")):
                con.execute(f"create or replace temp table {side}s as select * from {side} "
                            f"where __key in (select __key from k where __kind in ({kinds}))")
            con.execute(f"""create or replace temp table d as
                select k.__key, coalesce(c.__key_values, p.__key_values) as key_values,
                       case when k.__kind = 'changed' then nullif(concat_ws(',', {diff or "null"}), '')
                            else k.__kind end as __diff
                from (select * from k where __kind is not null) k
                left join cs c on c.__key = k.__key
                left join ps p on p.__key = k.__key""")
            # a hash differing for equal values cannot be; were it so, the row counts as unchanged
            unchanged[table_id] = con.execute("select (select count(*) from k where __kind is null) + "
                                              "(select count(*) from d where __diff is null)").fetchall()[0][0]
            con.execute("drop table k; drop table cs; drop table ps")
            # a deleted key this run did read (its record was rejected, merged or excluded this time)
            # is not a purge: the summary warns before the receiver deletes it
            staged = sorted((work / "work" / "rows" / table_id).glob("*.parquet"))
            read_now = (f"(select distinct __key from (select {key_expr(table, 'x')} as __key from read_parquet("
                        f"[{', '.join(quote_literal(f) for f in staged)}], union_by_name = true) x) "
                        f"where __key in (select __key from d where __diff = 'deleted'))" if staged
                        else "(select cast(null as varchar) as __key where false)")
            parts.append(con.sql(f"""
                select ? as run_id, ? as municipality_code,
                       case when d.__diff <> 'deleted' then ln.source_file end as source_file,
                       case when d.__diff <> 'deleted' then ln.source_line end as source_line,
                       case when d.__diff <> 'deleted' then ln.byte_offset end as byte_offset, ? as target_table,
                       case when d.__diff in ('inserted', 'deleted') then d.__diff else 'changed' end as change,
                       d.__key as target_key, d.key_values,
                       case when d.__diff not in ('inserted', 'deleted') then d.__diff end as changed_items,
                       case when d.__diff = 'deleted' then (case when s.__key is null then 'absent'
                                                                 else 'not_landed' end) end as deleted_because,
                       ? as previous_run_id,
                       case when d.__diff <> 'inserted' then lp.source_file end as previous_file,
                       case when d.__diff <> 'inserted' then lp.source_line end as previous_line
                from d
                left join (select target_key, source_file, source_line, byte_offset from read_parquet({lineage_now})
                           where fate = 'landed' and target_table = ? and target_key in (select __key from d))
                          ln on ln.target_key = d.__key
                left join (select target_key, source_file, source_line from read_parquet({lineage_before})
                           where target_table = ? and target_key in (select __key from d)) lp on lp.target_key = d.__key
                left join {read_now} s on d.__diff = 'deleted' and s.__key = d.__key
                where d.__diff is not null""", params=[*stamp, table_id, base.run_id, table_id, table_id]).pl())
        frame = (pl.concat(parts, how="vertical_relaxed") if parts else pl.DataFrame(schema=schema))
        order = pl.col("change").replace_strict({"inserted": 0, "changed": 1, "deleted": 2}, return_dtype=pl.Int8)
        frame.cast(schema).sort("target_table", order, "target_key").write_parquet(path)  # reruns give the same bytes
    finally:
        con.close()
    return unchanged


def count_delta(base: DeltaBase | None, delta: Path, staged_parts: Callable[[str], list[Path]],
                tables: list[str], unchanged: dict[str, int]) -> DeltaSummary | None:
    """The delta's counts, taken back from the written outputs: the previous rows from the base
    partition, the current from the staged one, the changes from the written ``delta`` table."""
    if base is None:
        return None
    written = pl.scan_parquet(delta)
    by = written.group_by("target_table", "change").len().collect()
    counts = {(r["target_table"], r["change"]): r["len"] for r in by.iter_rows(named=True)}
    not_landed = dict(written.filter(pl.col("deleted_because") == "not_landed").group_by("target_table").len()
                      .collect().iter_rows())
    items = (written.filter(pl.col("change") == "changed").select("target_table", pl.col("changed_items").str.split(","))
             .explode("changed_items").group_by("target_table", "changed_items").len().collect())
    def rows(files: list[Path]) -> int:
        return pl.scan_parquet(files).select(pl.len()).collect().item() if files else 0
    out = []
    for t in sorted(tables):
        out.append(TableDelta(
            table=t, previous=rows(sorted(base.partition(t).glob("*.parquet"))), current=rows(staged_parts(t)),
            inserted=counts.get((t, "inserted"), 0), changed=counts.get((t, "changed"), 0),
            deleted=counts.get((t, "deleted"), 0), unchanged=unchanged.get(t, 0),
            deleted_not_landed=not_landed.get(t, 0),
            changed_items={r["changed_items"]: r["len"] for r in items.filter(pl.col("target_table") == t)
                           .sort("changed_items").iter_rows(named=True)}))
    return DeltaSummary(base.run_id, str(base.folder), tuple(out))

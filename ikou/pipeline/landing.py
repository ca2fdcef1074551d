"""Landing a run into ``OUT``: safe against failures, interruptions and reruns.

Layout of OUT (see docs/outputs.md)::

    OUT/ikou.duckdb                                   one table per standard table + runs,
                                                      rejects, alerts, lineage, cleansing_changes,
                                                      code_coverage
    OUT/parquet/<table>/municipality_code=<code>/part-0.parquet
    OUT/review/<code>/review_queue_<table>.csv        probable duplicates for people to decide
    OUT/review/<code>/review_queue_<table>.html       the 1,000 most probable pairs side by side, differences marked
    OUT/summary.json                                  the latest run's summary
    OUT/.staging/<run_id>/                            a run being prepared (never read)

Protocol (like a load package):
1. Everything is written under ``OUT/.staging/<run_id>/`` first.
2. One DuckDB transaction deletes the municipality's previous rows from every table, inserts
   the new ones and records the run in ``runs``. Tables are loaded into the open transaction as
   their staged files are written; the COMMIT waits for the run to reconcile and is the commit
   point: a failure or interruption before it leaves the previous state untouched (rollback).
3. The Parquet partition folders are swapped by rename. If the process dies during the swap,
   the next ikou command on the same OUT sees a staged run already in ``runs`` and finishes the
   swap and puts the run's summary.json in place (roll forward); a staged run not in ``runs`` is
   deleted.
A lock file serialises landing and recovery between processes (``filelock``: an OS lock on
Linux, macOS and Windows alike, released by the system when a process dies).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
from filelock import FileLock, SoftFileLock, Timeout

from ikou.db import connect, quote_ident, quote_literal
from ikou.errors import ExitCode, IkouError
from ikou.i18n import tr
from ikou.pipeline import outputs

DB_NAME = "ikou.duckdb"
STAGING = ".staging"
SUMMARY = "summary.json"
# tables replaced per municipality on each run, besides the layout's own tables
RUN_TABLES = tuple(outputs.RUN_TABLES)  # replaced per layout; the layout tables per municipality


# the lock files stay in place (unlinking one another process is waiting on would let two in);
# only a lock by the file's mere existence (SoftFileLock: no OS locks at all) must remove it
_KEEP_FILE = {} if FileLock is SoftFileLock else {"preserve_lock_file": True}


def _lock(path: Path, timeout: float = -1) -> FileLock:
    return FileLock(path, timeout=timeout, thread_local=False, **_KEEP_FILE)


@contextmanager
def locked(out: Path) -> Iterator[None]:
    out.mkdir(parents=True, exist_ok=True)
    with _lock(out / ".ikou.lock"):
        yield


class _Held:
    """A held lock, released by ``close``."""

    def __init__(self, lock: FileLock):
        self._lock = lock

    def close(self) -> None:
        self._lock.release()


def hold_active(staged: Path) -> _Held:
    """Mark a staged run as alive until the returned object is closed (or the process ends):
    ``recover`` run by another process (a group's other member) leaves it alone. Take it under
    ``locked``."""
    lock = _lock(staged / ".active")
    lock.acquire()
    return _Held(lock)


def _is_active(staged: Path) -> bool:
    marker = staged / ".active"
    if not marker.exists():
        return False
    probe = _lock(marker, timeout=0)
    try:
        probe.acquire()
    except Timeout:
        return True
    probe.release()
    return False


def staging_dir(out: Path, run_id: str) -> Path:
    return out / STAGING / run_id


def _committed_runs(db: Path) -> set[str]:
    if not db.exists():
        return set()
    con = connect(db, read_only=True)
    try:
        if not con.execute("select count(*) from information_schema.tables where table_name = 'runs'").fetchone()[0]:
            return set()
        return {r[0] for r in con.execute("select run_id from runs").fetchall()}
    finally:
        con.close()


def recover(out: Path, fault: Callable[[str, Any], Any] | None = None) -> list[str]:
    """Finish or discard staged runs left by an interrupted process. Call under ``locked``.
    ``fault``: fault injection for tests (point "swap", as in ``Landing``)."""
    root = out / STAGING
    done = []
    committed = _committed_runs(out / DB_NAME) if root.exists() else set()
    for staged in sorted(p for p in root.iterdir() if p.is_dir()) if root.exists() else ():
        if _is_active(staged):
            continue  # a run in progress in another process (a group's member): its own business
        if staged.name in committed and (staged / "landing.json").exists():
            if fault is not None:
                fault("swap", None)
            _swap_partitions(out, staged)
            _publish_summary(out, staged)
            done.append(f"finished landing of run {staged.name}")
        else:
            done.append(f"discarded unfinished run {staged.name}")
        shutil.rmtree(staged, ignore_errors=True)
    if _never_committed(out / DB_NAME):
        # a first run killed inside its landing transaction: nothing of it ever committed
        for leftover in (out / DB_NAME, out / f"{DB_NAME}.wal"):
            leftover.unlink(missing_ok=True)
        done.append(f"removed {DB_NAME}: no run was ever committed to it (a first run was interrupted)")
    return done


def _never_committed(db: Path) -> bool:
    """An ikou.duckdb without a runs table: created by a first landing that never committed."""
    if not db.exists():
        return False
    try:
        con = connect(db, read_only=True)
    except duckdb.Error:
        return False  # not for recovery to judge: the command that opens it says what is wrong
    try:
        return not con.execute("select count(*) from information_schema.tables where table_name = 'runs'"
                               ).fetchall()[0][0]
    finally:
        con.close()


def _publish_summary(out: Path, staged: Path) -> None:
    """The committed run's summary.json, staged before the commit, put in place (atomically):
    after a kill at any point, OUT's summary.json describes the run its DuckDB and Parquet hold."""
    src = staged / SUMMARY
    if not src.exists():
        return
    tmp = out / f"{SUMMARY}.tmp"
    shutil.copyfile(src, tmp)
    os.replace(tmp, out / SUMMARY)


def _partition_dirs(staged: Path) -> list[Path]:
    plan = json.loads((staged / "landing.json").read_text(encoding="utf-8"))
    return [Path(p) for p in plan["partitions"]]


def _swap_partitions(out: Path, staged: Path) -> None:
    """Rename each staged partition folder into place; idempotent, so recovery can repeat it."""
    for rel in _partition_dirs(staged):
        new = staged / "out" / rel
        if not new.exists():
            continue  # already swapped
        final = out / rel
        old = staged / "old" / rel
        if final.exists():
            old.parent.mkdir(parents=True, exist_ok=True)
            os.replace(final, old)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(new, final)


LANDING_MEMORY = "256MB"


class Landing:
    """One run's landing transaction, driven from the run (see the module doc).

    Tables are loaded into an open DuckDB transaction as soon as their staged files exist, on a
    single background thread (the connection never leaves it; DuckDB and polars release the
    GIL, so loading overlaps the rest of the assembly). ``commit`` waits for every load, then
    records the run and commits; ``abort`` rolls back. Use it under ``locked(out)``."""

    def __init__(self, out: Path, staged: Path, municipality_code: str, layout: str = "",
                 fault: Callable[[str, Any], Any] | None = None, skip_layout_tables: bool = False):
        """``fault``: fault injection for tests (RunOptions.fault: points "load" and "swap");
        ``skip_layout_tables``: load only the run tables (benchmark ablation "duckdb_table")."""
        self.out, self.staged, self.code, self.layout = out, staged, municipality_code, layout
        self._fault, self._skip_layout_tables = fault, skip_layout_tables
        self._pool: ThreadPoolExecutor | None = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ikou-land")
        self._loads: list[Future] = []
        self._con: duckdb.DuckDBPyConnection | None = None
        self._pool.submit(self._begin).result()

    def _begin(self) -> None:
        self._created = not (self.out / DB_NAME).exists()
        self._con = connect(self.out / DB_NAME)
        # row order in the tables carries no meaning (Parquet keeps source order): twice as fast
        self._con.execute("set preserve_insertion_order = false")
        # DuckDB takes up to 80 % of the machine by default, and this load runs beside the rest of
        # the assembly: bounded, it writes ahead into the database file and spills into the run's
        # own staging folder (personal data: never the current folder)
        self._con.execute(f"set memory_limit = '{LANDING_MEMORY}'")
        self._con.execute(f"set temp_directory = {quote_literal(self.staged / 'duckdb-spill')}")
        self._con.execute("begin transaction")

    def load(self, table: str, files: list[Path], exclude_rids: Path | None = None,
             fed: list[str] | None = None) -> None:
        """Replace the municipality's rows of ``table`` by the staged files (asynchronously),
        leaving out the rows whose ``_rid`` is in the ``exclude_rids`` file. ``fed``: the columns
        of a layout table this run gives values (the others are NULL throughout)."""
        # a run table (rejects, lineage …) holds every 業務's runs: only this layout's are replaced
        layout = self.layout if table in RUN_TABLES else None
        if layout is None and self._skip_layout_tables:
            return
        args = (self._con, table, [str(f) for f in files], self.code, layout,
                str(exclude_rids) if exclude_rids else None, fed)
        self._loads.append(self._pool.submit(self._replace, *args))

    def _replace(self, con: duckdb.DuckDBPyConnection, table: str, *args) -> None:
        if self._fault is not None:
            self._fault("load", table)
        _replace_partition(con, table, *args)

    def commit(self, layout_tables: list[str], run_row: dict, summary_json: str,
               extra_dirs: list[str] = ()) -> None:
        """``extra_dirs``: further folders under the staged out/ replaced as a whole (review files)."""
        for done in self._loads:
            done.result()  # a failed load raises here, before anything is committed
        parquet_rel = [f"parquet/{t}/municipality_code={self.code}" for t in layout_tables] + list(extra_dirs)
        (self.staged / SUMMARY).write_text(summary_json, encoding="utf-8")  # published with the swap
        (self.staged / "landing.json").write_text(json.dumps({"partitions": parquet_rel}), encoding="utf-8")
        self._pool.submit(self._commit, run_row).result()
        self._close()
        # committed: from here on the run is landed, and the swap is finished now or by recovery
        try:
            if self._fault is not None:
                self._fault("swap", None)
            _swap_partitions(self.out, self.staged)
        except OSError as exc:
            raise IkouError(tr("the run is committed in {DB_NAME}, but its Parquet partitions could not be "
                               "moved into place: {exc}",
                               DB_NAME=DB_NAME, exc=exc),
                            hint=tr("fix the cause (disk space, permissions); the next ikou command on this OUT "
                                    "finishes the landing")) from exc
        if self._fault is not None:
            self._fault("summary", None)
        _publish_summary(self.out, self.staged)
        shutil.rmtree(self.staged, ignore_errors=True)

    def _commit(self, run_row: dict) -> None:
        _append_run(self._con, run_row)
        self._con.execute("commit")

    def abort(self) -> None:
        """Roll back whatever was loaded: OUT stays as it was."""
        if self._pool is None:
            return  # already committed or aborted
        for done in self._loads:
            done.cancel()
        try:
            self._pool.submit(self._rollback).result()
        finally:
            self._close()
        if self._created:  # a first run that failed leaves no empty database behind
            for leftover in (self.out / DB_NAME, self.out / f"{DB_NAME}.wal"):
                leftover.unlink(missing_ok=True)

    def _rollback(self) -> None:
        if self._con is not None:
            try:
                self._con.execute("rollback")
            except duckdb.Error:
                pass

    def _close(self) -> None:
        def close() -> None:
            if self._con is not None:
                self._con.close()
                self._con = None
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.submit(close).result()
            pool.shutdown()


def _replace_partition(con: duckdb.DuckDBPyConnection, table: str, files: list[str], code: str,
                       layout: str | None = None, exclude_rids: str | None = None,
                       fed: list[str] | None = None) -> None:
    """Replace a municipality's rows of ``table`` by the staged files. ``fed``: for a layout
    table, the columns this run gives values; the others of the layout are NULL in every row of
    the run and are not inserted."""
    # _rid is the run's internal record id (file index, line): used to reconcile, not landed
    where = (f" where _rid not in (select _rid from read_parquet({exclude_rids!r}))" if exclude_rids else "")
    source = (f"(select * exclude (_rid) from read_parquet({files!r}, union_by_name = true, hive_partitioning = false)"
              f"{where})")
    columns = {r[0] for r in con.execute(f"describe select * from read_parquet({files!r}, hive_partitioning = false)"
                                          ).fetchall()}
    if "_rid" not in columns:
        source = f"read_parquet({files!r}, union_by_name = true, hive_partitioning = false)"
    if "extras" in columns:
        # the kept columns: Parquet holds them as a list of key/value pairs, DuckDB as a MAP
        source = f'(select * replace (map_from_entries("extras") as "extras") from {source})'
    types = dict(con.execute(f"select column_name, column_type from (describe select * from {source})").fetchall())
    fed_set = set(types) if fed is None else set(fed) & set(types)
    exists = con.execute("select count(*) from information_schema.tables where table_name = ?", [table]).fetchone()[0]
    if not exists:
        _create_table(con, table, source, types, fed_set)
    else:
        found = con.execute("select column_name, is_generated from information_schema.columns where table_name = ?",
                            [table]).fetchall()
        have, virtual = {c for c, _ in found}, {c for c, g in found if g == "ALWAYS"}
        if set(types) - have and layout is not None:
            # a run table: a 業務 or a dedup setup brings columns of its own (review_queue's
            # side-by-side items): the table grows, earlier rows have them null
            for col in sorted(set(types) - have):
                con.execute(f'alter table "{table}" add column "{col}" {types[col]}')
        elif set(types) - have:
            raise IkouError(
                tr("table {table} in the existing ikou.duckdb lacks columns {sorted} of this run",
                   table=table, sorted=sorted(set(types) - have)),
                hint=tr("the layout changed since OUT was created: land into a new --out folder"),
                exit_code=ExitCode.BAD_INPUT)
        for col in sorted(fed_set & virtual):
            # an item no earlier run fed is a NULL column computed on read (nothing stored);
            # this run has values for it: it becomes a stored column (in this transaction)
            con.execute(f'alter table "{table}" drop column {quote_ident(col)}')
            con.execute(f'alter table "{table}" add column {quote_ident(col)} {types[col]}')
    if layout is None:
        con.execute(f'delete from "{table}" where municipality_code = ?', [code])
    else:
        has_runs = con.execute("select count(*) from information_schema.tables where table_name = 'runs'"
                               ).fetchone()[0]
        if has_runs:
            con.execute(f'delete from "{table}" where municipality_code = ? and run_id in '
                        f'(select run_id from runs where municipality_code = ? and layout = ?)', [code, code, layout])
    chosen = ", ".join(quote_ident(c) for c in types if c in fed_set)
    con.execute(f'insert into "{table}" by name select {chosen} from {source}')


DISTINCT_SAMPLE = 100_000
MOSTLY_DISTINCT = 0.5


def _create_table(con: duckdb.DuckDBPyConnection, table: str, source: str, types: dict[str, str],
                  fed: set[str]) -> None:
    """Create ``table`` with the source's columns. A column this run does not feed (an item of
    a 200-item layout the export does not have) is a virtual column computing NULL: storing a
    million NULLs of 150 such columns took DuckDB as long as storing the 60 real ones; a later
    run feeding it makes it a stored column. Text columns whose values are mostly distinct
    (identifiers, names, phone numbers) are stored with zstd: DuckDB's default dictionary+FSST
    analysis spends twice the CPU on them for ~20 % smaller columns (1M residents: load 6.8-7.6
    -> 5.1-5.4 CPU-s, file 82 -> 90 MB). Decided once, from a sample of the first run's data."""
    texts = [name for name, kind in types.items() if kind == "VARCHAR" and name in fed]
    distinct: set[str] = set()
    if texts:
        counts = con.execute(f"select count(*), {', '.join(f'approx_count_distinct({quote_ident(c)})' for c in texts)} "
                             f"from (select * from {source} limit {DISTINCT_SAMPLE})").fetchone()
        if counts[0] >= 1000:  # too few rows say nothing about the next runs
            distinct = {c for c, n in zip(texts, counts[1:]) if n > MOSTLY_DISTINCT * counts[0]}

    def column(c: str, kind: str) -> str:
        if c not in fed:
            return f"{quote_ident(c)} {kind} generated always as (null::{kind}) virtual"
        return f"{quote_ident(c)} {kind}" + (" using compression zstd" if c in distinct else "")

    try:
        con.execute(f'create table "{table}" ({", ".join(column(c, k) for c, k in types.items())})')
    except (duckdb.ParserException, duckdb.BinderException):  # per-column compression unknown to this
        # DuckDB or to the database's storage version: DuckDB's default for every column
        plain = ", ".join(f"{quote_ident(c)} {k}" if c in fed else column(c, k) for c, k in types.items())
        con.execute(f'create table "{table}" ({plain})')


def _append_run(con: duckdb.DuckDBPyConnection, row: dict) -> None:
    con.execute("""create table if not exists runs (
        run_id varchar primary key, started_at timestamp, finished_at timestamp, tool_version varchar,
        municipality_code varchar, layout varchar, mapping_path varchar, mapping_sha256 varchar,
        input_files json, source_records bigint, landed bigint, rejected bigint, merged bigint,
        excluded bigint, alerts bigint, reconciled boolean, exit_code integer, timings json, summary json, layout_sha256 varchar,
        not_provided json, constants json, overrides json, delta_from varchar)""")
    for column, kind in (("layout_sha256", "varchar"), ("not_provided", "json"), ("constants", "json"),
                         ("overrides", "json"), ("excluded", "bigint"), ("delta_from", "varchar")):  # an OUT created by an earlier ikou gains them
        con.execute(f"alter table runs add column if not exists {column} {kind}")
    cols = list(row)
    con.execute(f"insert into runs ({', '.join(cols)}) values ({', '.join('?' for _ in cols)})",
                [row[c] for c in cols])

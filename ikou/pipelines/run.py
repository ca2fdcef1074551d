"""``ikou migrate``: one municipality's legacy export into the standard layout.

Phases (each timed in the summary):
1. ``check``: load the mapping and layout, find the files, read every header; every file-level
   problem (missing file, empty file, undecodable header, missing column) is collected and
   reported at once, before anything is written.
2. ``extract``: stream each file in chunks through the row stages (pipelines/stages.py) and the
   pandera schema; write each chunk's rows, issues and changes to the run's staging folder.
   Code tables whose policy is ``fail`` stop the run here, again before anything is landed.
3. ``resolve``: set-level rules on the staged rows: exact dedup, then household rules.
4. ``assemble``: the landed table, rejects (with raw records), alerts, lineage, cleansing
   changes and code coverage, as Parquet in the staging folder.
5. ``reconcile``: count every fate back from the written outputs; each source record must be
   landed, rejected or merged exactly once.
6. ``land``: one DuckDB transaction, then the Parquet partition swap (pipelines/landing.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from ikou.exprs import fmt

from ikou import __version__
from ikou.cleansing.dedup import exact_duplicates
from ikou.errors import ExitCode, IkouError
from ikou.layout import Table
from ikou.mapping import Mapping, Source, load_mapping
from ikou.pipelines import landing
from ikou.extract import CHUNK_BYTES, RAW_UTF8, REJECT_SCHEMA, Extractor, FileStats, open_extractor
from ikou.pipelines.feeds import EXTRAS, EXTRAS_DTYPE, resolve_feeds
from ikou.pipelines.findings import (COVERAGE_SCHEMA, GAIJI_SCHEMA, changes, coverage, describe,
                                     gaiji_counts, issues)
from ikou.pipelines.stages import META, Context, landed_columns, row_stages, run_stages, staged_columns
from ikou.pipelines.values import CLEARED, chunk_counts, flows, item_counts, removed_parts
from ikou.reasons import priority
from ikou.report import CoverageCount, FileCount, RuleCount, RunSummary
from ikou.validators.household import (FINDING_SCHEMA, household_findings, latest_flag_findings,
                                       reference_findings)
from ikou.validators.schema import build_schema

log = logging.getLogger("ikou")
RID_SHIFT = 40  # _rid = _file << 40 | _line: one integer identity per source record
# the run tables' Parquet files only carry rows into DuckDB: fast compression, not small files
TRANSPORT = "snappy"
# the landed Parquet is kept: zstd, at level 1 (on 1M residents 0.6 CPU-s less than the default
# level 3, and a file no larger)
LANDED_ZSTD_LEVEL = 1


@dataclass(frozen=True)
class RunOptions:
    mapping: Path
    input_dir: Path
    out: Path | None
    dry_run: bool = False
    debug: bool = False
    chunk_bytes: int = CHUNK_BYTES
    code_tables: dict | None = None  # a 自治体クラウド group's code tables (raw, overrides merged)
    # fault injection for tests (never set by the CLI): called with ("staged", chunk DataFrame) after
    # the row stages and with ("landed", LazyFrame) before the landed table is written; returns
    # the frame to go on with
    fault: Callable[[str, Any], Any] | None = None


@dataclass
class InputFile:
    index: int
    source: Source
    path: Path
    display: str
    extractor: Extractor
    context: Context | None = None


@dataclass
class _Run:
    opts: RunOptions
    mapping: Mapping
    files: list[InputFile]
    run_id: str
    work: Path
    timings: dict[str, float] = field(default_factory=dict)
    coverage_parts: list[pl.DataFrame] = field(default_factory=list)
    value_parts: list[pl.DataFrame] = field(default_factory=list)  # value counts per chunk (pipelines/values.py)
    item_parts: list[pl.DataFrame] = field(default_factory=list)  # candidate values per item, per chunk
    gaiji_parts: list[pl.DataFrame] = field(default_factory=list)
    decisions: pl.DataFrame = field(default_factory=pl.DataFrame)  # reviewers' dedup decisions
    dedup: list[dict] = field(default_factory=list)  # what probabilistic dedup did, per table
    # (table, reference index) -> the keys landed in the referenced table (None: not checked)
    reference_keys: dict[tuple[str, int], pl.DataFrame | None] = field(default_factory=dict)
    active: Any = None  # the open, locked OUT/.staging/<run_id>/.active while the run lives
    notes: list[str] = field(default_factory=list)  # what the run could not check, for the summary


Progress = Callable[[int, int], None]


def migrate(opts: RunOptions, progress: Progress | None = None) -> RunSummary:
    started = dt.datetime.now(dt.timezone.utc)
    t0 = time.perf_counter()
    mapping = load_mapping(opts.mapping, group_code_tables=opts.code_tables)
    references = _reference_keys(mapping, opts.out)
    files = find_source_files(mapping, opts.input_dir, opts.chunk_bytes)
    _check_headers(mapping, files)
    from ikou.cleansing.probable import load_decisions
    decisions = load_decisions(mapping.dedup.decisions) if mapping.dedup.probabilistic else pl.DataFrame()
    run_id = _run_id(started, mapping, files)
    if opts.dry_run or opts.out is None:
        work = Path(tempfile.mkdtemp(prefix=f"ikou-{run_id}-"))
    else:
        with landing.locked(opts.out):
            for note in landing.recover(opts.out):
                log.warning("%s", note)
            work = landing.staging_dir(opts.out, run_id)
            work.mkdir(parents=True, exist_ok=False)
            active = landing.hold_active(work)
    run = _Run(opts, mapping, files, run_id, work, decisions=decisions, reference_keys=references)
    if not (opts.dry_run or opts.out is None):
        run.active = active
    run.timings["check"] = time.perf_counter() - t0
    committed = False
    try:
        _extract(run, progress)
        _check_fail_codes(run)
        resolved = _resolve_all(run)
        if opts.dry_run or opts.out is None:
            _assemble(run, resolved, None)
            summary = _reconcile(run)
            _fail_unreconciled(run, summary)
            _keep_debug(run)
            return summary
        with landing.locked(opts.out):
            lander = landing.Landing(opts.out, run.work, mapping.municipality_code, mapping.layout.id)
            try:
                _assemble(run, resolved, lander)
                summary = _reconcile(run)
                _fail_unreconciled(run, summary)
                _keep_debug(run)
                t = time.perf_counter()
                keep_layout(opts.out, mapping.layout)
                lander.commit(list(_layout_tables(run)), _run_row(run, summary, started), summary.to_json(),
                              extra_dirs=[f"review/{mapping.municipality_code}"])
                committed = True
                log.info("committed in %.1f s", time.perf_counter() - t)
            finally:
                if not committed:
                    lander.abort()
        return summary
    finally:
        _cleanup(run, committed)


LAYOUTS = "layouts"  # OUT/layouts/<layout>-<sha256>.yaml: each layout a run landed with, as it was


def layout_file(layout) -> str:
    return f"{LAYOUTS}/{layout.id}-{layout.sha256[:16]}.yaml"


def keep_layout(out: Path, layout) -> None:
    """Keep the layout file a run used in OUT, named by its content: `ikou report` reads the same
    item names, keys and money items from any folder, and after the layout file has changed."""
    target = out / layout_file(layout)
    if target.exists() or not layout.text:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(layout.text, encoding="utf-8")
    os.replace(tmp, target)


def _reference_keys(mapping: Mapping, out: Path | None) -> dict[tuple[str, int], pl.DataFrame | None]:
    """The keys each layout reference points at, read from the data already landed in OUT for
    the same municipality (e.g. the resident 宛名番号 a taxpayer must have). Read before anything
    is written: a reference to data OUT does not hold stops the run (exit 2). Without OUT (a dry
    run) references are not checked, and the summary says so."""
    from ikou.db import connect

    keys: dict[tuple[str, int], pl.DataFrame | None] = {}
    wanted = [(t, j, ref) for t in {s.table for s in mapping.sources}
              for j, ref in enumerate(mapping.layout.tables[t].references)]
    if not wanted:
        return keys
    db = out / landing.DB_NAME if out is not None else None
    problems = []
    for table, j, ref in wanted:
        if db is None or not db.exists():
            keys[(table, j)] = None
            if out is not None:
                problems.append(f"{table}: {'+'.join(ref.items)} must name {ref.layout}.{ref.table} records of "
                                f"municipality {mapping.municipality_code}, but {out} holds no ikou.duckdb yet")
            continue
        # under OUT's lock: another member of a group run may be landing right now
        with landing.locked(out):
            con = connect(db, read_only=True)
            try:
                present = {r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()}
                n = (con.execute(f'select count(*) from "{ref.table}" where municipality_code = ?',
                                 [mapping.municipality_code]).fetchall()[0][0] if ref.table in present else 0)
                if n == 0:
                    problems.append(f"{table}: {'+'.join(ref.items)} must name {ref.layout}.{ref.table} records of "
                                    f"municipality {mapping.municipality_code}, and {out} holds none")
                    continue
                cols = ", ".join(f'cast("{c}" as varchar) as "{i}"' for c, i in zip(ref.to, ref.items))
                keys[(table, j)] = con.sql(f'select distinct {cols} from "{ref.table}" where municipality_code = ?',
                                           params=[mapping.municipality_code]).pl()
            finally:
                con.close()
    if problems:
        raise IkouError("referenced data is missing; nothing was written", problems=problems,
                        hint="migrate the referenced layout (e.g. resident) for this municipality into the same "
                             "--out first; a group run (ikou migrate-group) orders each member's mappings so")
    return keys


def _fail_unreconciled(run: _Run, summary: RunSummary) -> None:
    if not summary.reconciled:
        kept = _keep_failed(run)
        raise IkouError("reconciliation failed: some source records have no single fate; nothing was landed",
                        problems=list(summary.reconciliation_problems), exit_code=ExitCode.INTERNAL,
                        hint=f"the run's staged outputs are kept in {kept} for diagnosis")


def _keep_failed(run: _Run) -> Path:
    if run.opts.dry_run or run.opts.out is None:
        return run.work  # a temporary folder: left in place
    kept = run.opts.out / "failed" / run.run_id
    kept.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(run.work), kept)
    return kept


def _keep_debug(run: _Run) -> None:
    """With --debug, keep every stage's output under OUT/debug/<run_id>/ (or ./ikou-debug-<run_id>)."""
    if not run.opts.debug or not (run.work / "debug").exists():
        return
    out = run.opts.out if run.opts.out is not None and not run.opts.dry_run else None
    keep = out / "debug" / run.run_id if out is not None else Path(f"ikou-debug-{run.run_id}")
    keep.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(run.work / "debug", keep, dirs_exist_ok=True)
    log.warning("stage outputs kept in %s", keep)


def _cleanup(run: _Run, committed: bool) -> None:
    """Remove what an unfinished run staged (keeping --debug stage outputs)."""
    opts = run.opts
    if run.active is not None:
        run.active.close()  # this run is over: its staging may be tidied (by itself, just below)
        run.active = None
    if not committed:
        _keep_debug(run)
    if opts.dry_run or opts.out is None:
        shutil.rmtree(run.work, ignore_errors=True)
        return
    if committed or not run.work.exists():
        return
    try:
        with landing.locked(opts.out):
            for note in landing.recover(opts.out):
                log.info("%s", note)
    except Exception as exc:  # noqa: BLE001 - the run's own error is the one to report
        log.warning("could not tidy %s now (%s); the next ikou command on it will", opts.out, exc)


# -- phase 1: check ---------------------------------------------------------------------------

def find_source_files(mapping: Mapping, input_dir: Path, chunk_bytes: int) -> list[InputFile]:
    if not input_dir.is_dir():
        raise IkouError(f"input folder {input_dir} does not exist or is not a folder")
    problems, files = [], []
    for source in mapping.sources:
        matches = sorted(p for p in input_dir.glob(source.files) if p.is_file())
        if not matches:
            problems.append(f"source {source.name}: no file in {input_dir} matches {source.files!r}")
        for path in matches:
            display = path.relative_to(input_dir).as_posix()
            extractor = open_extractor(path, display, source, chunk_bytes)
            files.append(InputFile(len(files), source, path, display, extractor))
    if problems:
        raise IkouError("input files are missing; nothing was written", problems=problems,
                        hint="check --input and the 'files' glob of each source in the mapping")
    return files


def _check_headers(mapping: Mapping, files: list[InputFile]) -> None:
    """Read every header and resolve every item's feed; report all problems at once."""
    problems: list[str] = []
    hints: set[str] = set()
    for f in files:
        try:
            header = f.extractor.read_header()
        except IkouError as exc:
            problems.append(exc.message)
            if exc.hint:
                hints.add(exc.hint)
            continue
        table = mapping.layout.table(f.source.table)
        structural = ("record_type",) if f.source.fixed is not None and f.source.fixed.record_type else ()
        feeds = resolve_feeds(mapping, f.source, table, header, f.display, f.extractor.duplicate_columns,
                              structural, problems)
        f.context = Context(mapping, f.source, table, feeds)
        if feeds.unaccounted:
            samples = _samples(f, feeds.unaccounted)
            problems += [f"{f.display}: column {c!r} is neither mapped nor listed under unmapped_columns"
                         + (f" (values such as {', '.join(samples[c])})" if samples.get(c) else " (empty in the "
                            "first records)") for c in feeds.unaccounted]
            hints.add("map each such column to an item, or list it under the source's unmapped_columns with its "
                      "fate: {drop: <why>} or keep (its text lands in the row's extras): a column is never dropped "
                      "without a word")
    if problems:
        if any("missing column" in p for p in problems):
            hints.add("compare the header line of the file with the 'column' names in the mapping "
                      "(and skip_rows: the number of metadata rows before the header)")
        raise IkouError(f"the export does not match the mapping ({len(problems)} problem(s)); nothing was written",
                        problems=problems, hint="; ".join(sorted(hints)) or None)


def _samples(f: InputFile, columns: list[str], n: int = 3) -> dict[str, list[str]]:
    """A few distinct values of each column from the file's first records, 個人番号-like runs
    masked: for a person to see what the column holds."""
    from ikou.masking import mask_number_like

    try:
        first = next(iter(open_extractor(f.path, f.display, f.source, 1 << 18).chunks()), None)
    except IkouError:
        return {}
    if first is None:
        return {}
    out = {}
    for c in columns:
        values = first.frame[c].drop_nulls().filter(first.frame[c].drop_nulls() != "").unique(maintain_order=True)
        out[c] = [repr(mask_number_like(v[:40])) for v in values.head(n).to_list()]
    return out


def _run_id(started: dt.datetime, mapping: Mapping, files: list[InputFile]) -> str:
    h = hashlib.sha256(mapping.sha256.encode())
    # the layout and the tables beside the mapping are part of what the run does
    h.update(mapping.layout.sha256.encode())
    for table in mapping.lookups.values():
        h.update(table.sha256.encode())
    if mapping.gaiji is not None:
        h.update(Path(mapping.gaiji.path).read_bytes())
    for f in files:
        st = f.path.stat()
        h.update(f"{f.display}:{st.st_size}:{st.st_mtime_ns}".encode())
    return f"{started:%Y%m%dT%H%M%S%fZ}-{mapping.municipality_code}-{h.hexdigest()[:8]}"


# -- phase 2: extract and row-level stages -------------------------------------------------------

def _extract(run: _Run, progress: Progress | None) -> None:
    """Stream every file's chunks through the row stages. The main thread reads and decodes
    chunks (GIL-bound); up to ``WORKERS`` threads transform them concurrently (polars releases
    the GIL), so the two cores stay busy. At most WORKERS + 1 chunks are in memory at once."""
    t = time.perf_counter()
    total = sum(f.path.stat().st_size for f in run.files)
    done = 0
    # polars 2's "auto" engine runs a query over an in-memory batch on the streaming engine, whose
    # start-up (about 1 ms a query) outweighs the work of the few hundred small queries pandera
    # and the row stages run per batch. Only here: the later phases scan the staged files, where
    # streaming keeps memory bounded.
    with (pl.Config(engine_affinity="in-memory"),
          ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="ikou-chunk") as pool):
        pending: deque[Future] = deque()
        for f in run.files:
            ctx = f.context
            assert ctx is not None
            ts = build_schema(run.mapping.layout, ctx.table, ctx.landed_items)
            stages = row_stages(ctx)
            legacy_to_item = {col: item for item, col in ctx.columns.items()}
            before = 0
            for c, chunk in enumerate(f.extractor.chunks()):
                while len(pending) >= WORKERS:
                    pending.popleft().result()
                part = f"f{f.index:04d}-c{c:06d}.parquet"
                pending.append(pool.submit(_transform_chunk, run, ctx, ts, stages, f.index, chunk, part,
                                           legacy_to_item))
                size = f.extractor.stats.size
                done += size - before
                before = size
                if progress:
                    progress(done, total)
        while pending:
            pending.popleft().result()
    run.timings["extract"] = time.perf_counter() - t


WORKERS = 2


def _transform_chunk(run: _Run, ctx: Context, ts, stages, file_index: int, chunk, part: str,
                     legacy_to_item: dict[str, str]) -> None:
    lf = chunk.frame.lazy().with_columns(pl.lit(file_index, pl.Int32).alias("_file"))
    uncounted = [c.column for c in ctx.feeds.columns if c.fate in ("dropped", "structural")]
    if uncounted:  # how many values the mapping leaves behind, for the summary
        got = chunk.frame.select([(pl.col(c).is_not_null() & (pl.col(c) != "")).sum().alias(c) for c in uncounted])
        run.value_parts.append(pl.DataFrame({"column": uncounted, "bucket": ["source"] * len(uncounted),
                                             "n": [int(v) for v in got.row(0)], "_file": [file_index] * len(uncounted)},
                                            schema={"column": pl.String, "bucket": pl.String, "n": pl.Int64,
                                                    "_file": pl.Int32}))
    if "_raw" not in chunk.frame.columns:  # only XML records carry their raw form; others are re-read by offset
        lf = lf.with_columns(pl.lit(None, pl.Binary).alias("_raw"))
    debug_hook = _debug_writer(run, part) if run.opts.debug else None
    frame = run_stages(lf, stages, debug_hook).collect().with_row_index("_row").with_columns(
        pl.col("_row").cast(pl.Int64), _rid_expr())
    if run.opts.fault is not None:  # fault injection for tests: a stage losing values, say
        frame = run.opts.fault("staged", frame)
    _write_chunk(run, ctx, ts, frame, part)
    if chunk.rejects.height:
        x = chunk.rejects.with_columns(
            pl.lit(file_index, pl.Int32).alias("_file"),
            pl.col("item").replace_strict(legacy_to_item, default=pl.col("item")),
        ).with_columns(_rid_expr())
        _write(run, "rejects_x", part, x.cast(REJECT_X_WORK).select(list(REJECT_X_WORK)))


def _rid_expr() -> pl.Expr:
    return ((pl.col("_file").cast(pl.Int64) * (1 << RID_SHIFT)) + pl.col("_line")).alias("_rid")


def _debug_writer(run: _Run, part: str) -> Callable[[int, str, pl.LazyFrame], None]:
    def write(i: int, name: str, lf: pl.LazyFrame) -> None:
        _write(run, f"debug/{i + 1:02d}_{name}", part, lf.collect())
    return write


def _write(run: _Run, kind: str, part: str, frame: pl.DataFrame) -> None:
    folder = run.work / "work" / kind if not kind.startswith("debug/") else run.work / kind
    folder.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(folder / part, compression="snappy", statistics=False)


def _write_chunk(run: _Run, ctx: Context, ts, frame: pl.DataFrame, part: str) -> None:
    found = issues(ctx, ts, frame)
    order = {it.id: i for i, it in enumerate(ctx.table.items)}
    rank = priority()
    errors = found.filter(pl.col("level") == "error").with_columns(
        pl.col("item").replace_strict(order, default=len(order), return_dtype=pl.Int32).alias("__o"),
        pl.col("code").replace_strict(rank, default=len(rank), return_dtype=pl.Int32).alias("__r"))
    primary = (errors.sort("_row", "__o", "__r")
               .group_by("_row", maintain_order=True)
               .agg(pl.col("code").first().alias("_reject_code"), pl.col("item").first().alias("_reject_item"),
                    pl.col("value").first().alias("_reject_value"),
                    pl.col("code").str.join(";").alias("_reasons")))
    rejected = pl.col("_row").is_in(primary["_row"].implode())
    values, cleared = chunk_counts(ctx, frame, rejected)
    run.value_parts.append(values.with_columns(pl.lit(ctx_file(run, ctx, frame), pl.Int32).alias("_file")))
    run.item_parts.append(item_counts(ctx, frame, rejected).with_columns(pl.lit(ctx.table.id).alias("table")))
    rows = (frame.select("_row", "_rid", *META, "_raw", *staged_columns(ctx))
            .join(cleared, on="_row", how="left").join(primary, on="_row", how="left"))
    _write(run, f"rows/{ctx.table.id}", part, rows.drop("_row"))
    alerts = found.filter(pl.col("level") == "alert")
    if alerts.height:
        _write(run, "alerts", part, alerts.join(frame.select("_row", *WHERE_WORK), on="_row").select(list(ALERT_WORK)))
    ch = changes(ctx, frame)
    if ch.height:
        # already in the cleansing_changes table's columns: DuckDB loads these files as they are
        sensitive = [it.id for it in ctx.table.items if it.sensitive]
        _write(run, "changes", part, ch.sort("_row", "item").join(frame.select("_row", *WHERE_WORK), on="_row",
                                                                  maintain_order="left").select(
            *_stamp(run), "item", "rules", "original", "cleansed",
            pl.col("item").is_in(sensitive).alias("sensitive"), "_rid").cast(CHANGE_WORK))
    run.coverage_parts.append(coverage(ctx, frame))
    run.gaiji_parts.append(gaiji_counts(ctx, frame))


def ctx_file(run: _Run, ctx: Context, frame: pl.DataFrame) -> int:
    """The index of the file a chunk came from."""
    return int(frame["_file"][0]) if frame.height else next(f.index for f in run.files if f.context is ctx)


def _check_fail_codes(run: _Run) -> None:
    """Code tables with ``unmapped: fail`` stop the run when the data holds codes they lack."""
    fail_tables = {cid for cid, cm in run.mapping.code_tables.items() if cm.unmapped == "fail"}
    if not fail_tables:
        return
    cov = _coverage_totals(run)
    bad = cov.filter(pl.col("code_table").is_in(list(fail_tables)) & pl.col("standard_code").is_null()
                     & (pl.col("records") > 0))
    if bad.height:
        paths = {f.index: f.display for f in run.files}
        problems = [f"code table {r['code_table']} (item {r['item']}): legacy code {r['legacy_code']!r} is not "
                    f"mapped ({r['records']} records, first at {paths.get(r['first_file'], '?')}:{r['first_line']})"
                    for r in bad.sort("code_table", "legacy_code").iter_rows(named=True)]
        raise IkouError("codes found in the data are missing from code tables marked 'unmapped: fail'; "
                        "nothing was written", problems=problems,
                        hint="add the codes to the mapping's code_tables, or set unmapped: reject or alert")


def _coverage_totals(run: _Run) -> pl.DataFrame:
    parts = run.coverage_parts or [pl.DataFrame(schema=COVERAGE_SCHEMA)]
    # the first place is one record's (file, line): the earliest file, then its earliest line
    # (workers finish chunks in any order)
    used = (pl.concat(parts, how="vertical").sort("first_file", "first_line")
            .group_by("code_table", "item", "legacy_code", maintain_order=True)
            .agg(pl.col("standard_code").first(), pl.col("records").sum(),
                 pl.col("first_file").first(), pl.col("first_line").first()))
    rows = []
    seen = {(r["code_table"], r["legacy_code"]) for r in used.iter_rows(named=True)}
    items_of = {}
    for f in run.files:
        for im in f.source.items:
            if im.code_table:
                items_of.setdefault(im.code_table, im.item)
    for cid, cm in run.mapping.code_tables.items():
        for legacy, standard in cm.codes.items():
            if (cid, legacy) not in seen:
                rows.append({"code_table": cid, "item": items_of.get(cid, ""), "legacy_code": legacy,
                             "standard_code": standard, "records": 0, "first_file": None, "first_line": None})
    unused = pl.DataFrame(rows, schema=used.schema)
    return pl.concat([used, unused], how="vertical").sort("code_table", "legacy_code")


# -- phases 3 and 4: set-level rules and assembly -----------------------------------------------------

WHERE_WORK = {"_rid": pl.Int64, "_file": pl.Int32, "_line": pl.Int64, "_offset": pl.Int64}
ALERT_WORK = {**WHERE_WORK, "item": pl.String, "code": pl.String, "level": pl.String, "value": pl.String}
CHANGE_WORK = {"run_id": pl.String, "municipality_code": pl.String, "source_file": pl.String,
               "source_line": pl.Int64, "item": pl.String, "rules": pl.String, "original": pl.String,
               "cleansed": pl.String, "sensitive": pl.Boolean, "_rid": pl.Int64}
REJECT_X_WORK = {**REJECT_SCHEMA, "_file": pl.Int32, "_rid": pl.Int64}
REJECT_FIELDS = ["_rid", "_file", "_line", "_offset", "_length", "_raw", "code", "item", "value", "message",
                 "reasons"]


def _rows_schema(table: Table) -> dict:
    return {"_rid": pl.Int64, "_file": pl.Int32, **{m: pl.Int64 for m in META[1:]}, "_raw": pl.Binary,
            **table.schema(), EXTRAS: EXTRAS_DTYPE, CLEARED: pl.String,
            "_reject_code": pl.String, "_reject_item": pl.String, "_reject_value": pl.String, "_reasons": pl.String}


def _layout_tables(run: _Run) -> dict[str, Table]:
    return {f.source.table: run.mapping.layout.table(f.source.table) for f in run.files}


def _where(run: _Run) -> pl.Expr:
    """A record's place for messages: 'line N', or 'path:N' when the run reads several files."""
    if len(run.files) == 1:
        return fmt("line {}", pl.col("_line"))
    paths = {f.index: f.display for f in run.files}
    return fmt("{}:{}", pl.col("_file").replace_strict(paths, return_dtype=pl.String), pl.col("_line"))


def _scan(run: _Run, kind: str, schema: dict) -> pl.LazyFrame:
    """The staged files of a kind, in the given schema: a file lacking a column (staged rows
    carry only the items their file feeds) reads it as nulls."""
    folder = run.work / "work" / kind
    files = sorted(folder.glob("*.parquet")) if folder.exists() else []
    return (pl.scan_parquet(files, schema=schema, missing_columns="insert") if files
            else pl.LazyFrame(schema=schema))


@dataclass
class _Resolved:
    """One table after the set-level rules. ``removed`` is collected once, so the outputs built
    from it never re-run the dedup and household joins; it is small (the records the set-level
    rules took out), so filtering against it is cheaper than joining with every landed id."""
    table: Table
    rows: pl.LazyFrame  # every parsed record of the table's files, in record order
    removed: pl.DataFrame  # _rid of the records that passed the row rules but do not land
    decisions: pl.DataFrame  # dedup: merged (exact or probable, with reason) / conflict
    findings: pl.DataFrame  # household rules: errors and alerts
    review: pl.DataFrame | None = None  # probable duplicates for people to decide (pairs)
    dedup: dict | None = None  # what probabilistic dedup did (for the summary)
    model: dict | None = None  # the trained splink model

    @property
    def landed(self) -> pl.LazyFrame:
        # a filter against the few removed ids streams in record order; a join would not
        removed = self.removed["_rid"].implode()
        return self.rows.filter(pl.col("_reject_code").is_null() & ~pl.col("_rid").is_in(removed))

    @property
    def not_landed(self) -> pl.LazyFrame:
        """_rid of every record of the table that does not land (rejected or merged)."""
        return pl.concat([self.rows.filter(pl.col("_reject_code").is_not_null()).select("_rid"),
                          self.removed.lazy()], how="vertical")


def _resolve(run: _Run, table: Table) -> _Resolved:
    rows = _scan(run, f"rows/{table.id}", _rows_schema(table))
    candidates = rows.filter(pl.col("_reject_code").is_null())
    # two records are copies when every landed column is the same, extras (kept columns) included
    content = [c for c in landed_columns(table) if c != "municipality_code"]
    decisions = exact_duplicates(candidates, table, content, _where(run)).collect().with_columns(
        reason=pl.when(pl.col("decision") == "merged").then(pl.lit("exact_duplicate")),
        match_probability=pl.lit(None, pl.Float64))
    after = candidates.filter(~pl.col("_rid").is_in(decisions["_rid"].implode()))
    fed = {c for f in run.files if f.source.table == table.id for c in staged_columns(f.context)}
    household = table.household
    if household is not None and not {household.household, household.relationship, household.person} <= fed:
        # a household rule over items the export does not have would compare nulls: not checked
        run.notes.append(f"{table.id}: household rule not checked: "
                         + ", ".join(sorted({household.household, household.relationship, household.person} - fed))
                         + " not provided")
        household = None
    findings = (household_findings(after, household, _where(run)).collect() if household
                else pl.DataFrame(schema=FINDING_SCHEMA))
    history = table.history
    if history is not None and history.latest_flag in fed and history.person in fed:
        findings = pl.concat([findings, latest_flag_findings(after, history).collect()], how="vertical")
    for j, ref in enumerate(table.references):
        known = run.reference_keys.get((table.id, j))
        if known is not None:
            findings = pl.concat([findings, reference_findings(after, ref, known.lazy()).collect()], how="vertical")
    kept = after.join(findings.lazy().filter(pl.col("level") == "error").select("_rid"), on="_rid", how="anti")
    resolved = _Resolved(table, rows, pl.DataFrame(), decisions, findings)
    if run.mapping.dedup.probabilistic and table.matching is not None:
        _probable_duplicates(run, resolved, kept)
    # merged or conflicting duplicates (exact and probable) and records failing a set-level rule
    resolved.removed = pl.concat([resolved.decisions.select("_rid"),
                                  resolved.findings.filter(pl.col("level") == "error").select("_rid")],
                                 how="vertical").unique().sort("_rid")
    values, items = removed_parts({f.index: f.context for f in run.files}, resolved)
    run.value_parts += values
    run.item_parts += items
    return resolved


def _probable_duplicates(run: _Run, r: _Resolved, kept: pl.LazyFrame) -> None:
    """Find one person registered under several 宛名番号 (cleansing/probable.py) among ``kept``, merge
    those the model or a reviewer is sure of (into ``r.decisions``), queue the rest for review."""
    from ikou.cleansing.probable import match_frame, resolve_pairs, score_pairs

    t = time.perf_counter()
    roles, settings = r.table.matching, run.mapping.dedup
    frame = match_frame(kept, roles)
    scored = score_pairs(frame, settings)
    people = kept.select("_rid", pl.col(roles.person).cast(pl.String)).collect()
    res = resolve_pairs(frame, scored.pairs, run.decisions, people, roles, settings)
    merged = res.merges
    # an exact copy whose survivor is now merged follows it to the final survivor
    hop = merged.select(pl.col("_rid").alias("survivor_rid"), pl.col("survivor_rid").alias("__final"))
    exact = (r.decisions.join(hop, on="survivor_rid", how="left")
             .with_columns(survivor_rid=pl.coalesce("__final", "survivor_rid")).drop("__final"))
    r.decisions = pl.concat([exact, merged.select(exact.columns)], how="vertical")
    kept = kept.join(merged.lazy().select("_rid"), on="_rid", how="anti")
    if r.table.household is not None and merged.height:
        # a merged person may have headed a household with others in it: check those households again
        hh = r.table.household.household
        touched = (r.rows.join(merged.lazy().select("_rid"), on="_rid", how="semi").select(hh).unique())
        again = household_findings(kept.join(touched, on=hh, how="semi"), r.table.household, _where(run)).collect()
        new_alerts = again.filter(pl.col("level") == "alert").join(r.findings.select("_rid", "code"),
                                                                  on=["_rid", "code"], how="anti")
        r.findings = pl.concat([r.findings, new_alerts], how="vertical")
    r.review = _review_rows(run, r, frame, scored, res.review)
    r.model = scored.model
    r.dedup = {"table": r.table.id, "method": "probabilistic", "backend": settings.backend,
               "persons_compared": frame.height, "pairs_scored": scored.pairs.height,
               "training_skipped": list(scored.untrained),
               "auto_merge": settings.auto_merge, "review": settings.review,
               "merged_records": merged.height,
               "merged_persons": people.join(merged.select("_rid"), on="_rid").select(
                   pl.col(roles.person).n_unique()).item(),
               "clusters": res.clusters, "review_pairs": r.review.height, "decisions": res.decisions_used,
               "decisions_file": str(settings.decisions) if settings.decisions else None,
               "seconds": round(time.perf_counter() - t, 3)}
    log.info("dedup: %d persons compared, %d pairs scored, %d records merged, %d pairs for review",
             frame.height, scored.pairs.height, merged.height, r.review.height)


REVIEW_LEAD = {"run_id": pl.String, "municipality_code": pl.String, "table_id": pl.String, "pair_key": pl.String,
               "decision": pl.String, "match_probability": pl.Float64, "match_weight": pl.Float64,
               "evidence": pl.String}


def _review_rows(run: _Run, r: _Resolved, frame: pl.DataFrame, scored, pairs: pl.DataFrame) -> pl.DataFrame:
    """The review queue: each pair's two records side by side (sensitive items masked), what the
    model saw in each comparison, and an empty ``decision`` for a person to fill in."""
    from ikou.masking import mask_expr

    roles = r.table.matching
    items = [i for i in roles.items if i in r.table.item_ids]
    gammas = [c for c in scored.pairs.columns if c.startswith("gamma_")]
    labelled = [pl.col(g).replace_strict({k: f"{g[6:]}: {v}" for k, v in scored.labels.get(g[6:], {}).items()},
                                         default=pl.lit(f"{g[6:]}: null"), return_dtype=pl.String)
                for g in gammas]
    pairs = pairs.join(scored.pairs.select("unique_id_l", "unique_id_r", *gammas), on=["unique_id_l", "unique_id_r"],
                       how="left").with_columns(
        evidence=pl.concat_str(labelled, separator="; ") if labelled else pl.lit(None, pl.String))
    ids = pl.concat([pairs["unique_id_l"], pairs["unique_id_r"]]).unique().implode()
    paths = {f.index: f.display for f in run.files}
    sensitive = {it.id for it in r.table.items if it.sensitive}
    values = (r.rows.filter(pl.col("_rid").is_in(ids))
              .select("_rid", pl.col("_file").replace_strict(paths, return_dtype=pl.String).alias("source_file"),
                      pl.col("_line").alias("source_line"),
                      *[(mask_expr(pl.col(i).cast(pl.String)) if i in sensitive else pl.col(i).cast(pl.String)).alias(i)
                        for i in items])
              .collect())
    cols = ["source_file", "source_line", *items]
    side = [values.rename({c: f"{c}_{k}" for c in cols} | {"_rid": f"unique_id_{lr}"})
            for k, lr in ((1, "l"), (2, "r"))]
    out = (pairs.join(side[0], on="unique_id_l", how="left").join(side[1], on="unique_id_r", how="left")
           .with_columns(run_id=pl.lit(run.run_id), municipality_code=pl.lit(run.mapping.municipality_code),
                         table_id=pl.lit(r.table.id), decision=pl.lit(None, pl.String)))
    return out.select(*REVIEW_LEAD, *[f"{c}_{k}" for c in cols for k in (1, 2)]).cast(REVIEW_LEAD)


def _resolve_all(run: _Run) -> list[_Resolved]:
    """Apply the set-level rules (dedup, household, references) to every table. Needs no lock on
    OUT: a group's members resolve at the same time and queue only to land."""
    t = time.perf_counter()
    resolved = [_resolve(run, table) for table in _layout_tables(run).values()]
    run.dedup = [r.dedup for r in resolved if r.dedup]
    run.timings["resolve"] = time.perf_counter() - t
    return resolved


def _assemble(run: _Run, resolved: list[_Resolved], lander: landing.Landing | None) -> None:
    """Write every output; each finished output is handed to the lander (if landing) so that
    DuckDB loads it while the next one is written."""
    out = run.work / "out"
    out.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    for r in resolved:
        part_dir = out / "parquet" / r.table.id / f"municipality_code={run.mapping.municipality_code}"
        part_dir.mkdir(parents=True, exist_ok=True)
        # the staged parts are scanned in record order, and the is_in filter keeps it: no sort
        landed = r.landed.select(landed_columns(r.table))
        if run.opts.fault is not None:  # fault injection for tests: the landed table losing values
            landed = run.opts.fault("landed", landed)
        landed.sink_parquet(part_dir / "part-0.parquet", compression="zstd",
                                                              compression_level=LANDED_ZSTD_LEVEL)
        if lander is not None:
            fed = dict.fromkeys(c for f in run.files if f.source.table == r.table.id for c in staged_columns(f.context))
            lander.load(r.table.id, [part_dir / "part-0.parquet"], fed=list(fed))
    not_landed = pl.concat([r.not_landed for r in resolved], how="vertical").collect()
    (run.work / NOT_LANDED).parent.mkdir(parents=True, exist_ok=True)  # a file without records staged nothing
    not_landed.write_parquet(run.work / NOT_LANDED)
    not_landed = not_landed["_rid"].implode()
    names = {it.id: it for r in resolved for it in r.table.items}
    writers = {
        "rejects": lambda path: _write_rejects(run, resolved, names, path),
        "lineage": lambda path: _write_lineage(run, resolved, path),
        "alerts": lambda path: _write_alerts(run, resolved, names, not_landed, path),
        "code_coverage": lambda path: _write_coverage(run, path),
        "gaiji_counts": lambda path: _write_gaiji(run, path),
        "review_queue": lambda path: _write_review(run, resolved, path),
    }
    assert set(writers) | {"cleansing_changes"} == set(landing.RUN_TABLES)
    if lander is not None:
        # a million changed values are not copied once more: DuckDB reads the workers' files
        lander.load("cleansing_changes", _change_files(run), exclude_rids=run.work / NOT_LANDED)
    for table, write in writers.items():
        write(out / f"{table}.parquet")
        if lander is not None:
            lander.load(table, [out / f"{table}.parquet"])
    run.timings["assemble"] = time.perf_counter() - t


def _write_review(run: _Run, resolved: list[_Resolved], path: Path) -> None:
    """review_queue (DuckDB) and, for people, OUT/review/<code>/review_queue_<table>.csv (UTF-8 with
    BOM, so that Excel opens it as is) and the trained model as JSON."""
    queues = [r.review for r in resolved if r.review is not None]
    frame = (pl.concat(queues, how="diagonal_relaxed") if queues else pl.DataFrame(schema=REVIEW_LEAD))
    frame.write_parquet(path)
    folder = run.work / "out" / "review" / run.mapping.municipality_code
    folder.mkdir(parents=True, exist_ok=True)  # even empty: landing replaces an older run's files
    for r in resolved:
        if r.review is None:
            continue
        csv_frame = r.review.drop("run_id", "municipality_code", "table_id")
        (folder / f"review_queue_{r.table.id}.csv").write_bytes(
            b"\xef\xbb\xbf" + csv_frame.write_csv(line_terminator="\r\n").encode("utf-8"))
        (folder / f"model_{r.table.id}.json").write_text(json.dumps(r.model, ensure_ascii=False, indent=1),
                                                         encoding="utf-8")


def _stamp(run: _Run) -> list[pl.Expr]:
    paths = {f.index: f.display for f in run.files}
    return [pl.lit(run.run_id).alias("run_id"), pl.lit(run.mapping.municipality_code).alias("municipality_code"),
            pl.col("_file").replace_strict(paths, return_dtype=pl.String).alias("source_file"),
            pl.col("_line").alias("source_line")]


def _write_rejects(run: _Run, resolved: list[_Resolved], names: dict, path: Path) -> None:
    parts = []
    for r in resolved:
        parts.append(r.rows.filter(pl.col("_reject_code").is_not_null()).select(
            "_rid", "_file", "_line", "_offset", "_length", "_raw", pl.col("_reject_code").alias("code"),
            pl.col("_reject_item").alias("item"), pl.col("_reject_value").alias("value"),
            pl.lit(None, pl.String).alias("message"), pl.col("_reasons").alias("reasons")))
        conflicts = r.decisions.lazy().filter(pl.col("decision") == "conflict").select(
            "_rid", pl.lit("duplicate_conflict").alias("code"), pl.lit(None, pl.String).alias("item"),
            pl.lit(None, pl.String).alias("value"), "message")
        heads = r.findings.lazy().filter(pl.col("level") == "error").select("_rid", "code", "item", "value", "message")
        for found in (conflicts, heads):
            parts.append(r.rows.select("_rid", "_file", "_line", "_offset", "_length", "_raw").join(found, on="_rid")
                         .with_columns(pl.col("code").alias("reasons")).select(REJECT_FIELDS))
    rejects = describe(names, pl.concat(parts, how="vertical")).collect()
    # CSV and fixed-width records are read back by offset; XML and workbook records brought their raw form
    reread = rejects.filter(pl.col("_raw").is_null()).select("_file", "_offset", "_length")
    rejects = (rejects.join(_read_raw(run, reread), on=["_file", "_offset"], how="left")
               .with_columns(pl.coalesce("_raw", "raw_bytes").alias("raw_bytes")).drop("_raw"))
    x = _scan(run, "rejects_x", REJECT_X_WORK).select(
        "_rid", "_file", "_line", "_offset", "_length", pl.col("reason_code").alias("code"), "item",
        pl.lit(None, pl.String).alias("value"), "message", pl.col("reason_code").alias("reasons"), "raw_bytes")
    rejects = pl.concat([rejects.select(x.collect_schema().names()), x.collect()], how="vertical_relaxed").sort("_rid")
    # the raw record as text; undecodable bytes shown as \x85 escapes (rejects only: few rows)
    # XML records are stored as UTF-8 (lxml serialises them so); the others in their file's encoding
    codecs_of = {f.index: "utf-8" if f.source.format in RAW_UTF8 else f.source.codec for f in run.files}
    raw_text = [None if raw is None else raw.decode(codecs_of[index], "backslashreplace")
                for index, raw in rejects.select("_file", "raw_bytes").iter_rows()]
    rejects.with_columns(pl.Series("raw_record", raw_text, dtype=pl.String)).select(
        *_stamp(run), pl.col("_offset").alias("byte_offset"), pl.col("code").alias("reason_code"), "item",
        "message", "reasons", "raw_record", "raw_bytes", "_rid").write_parquet(path)


def _write_lineage(run: _Run, resolved: list[_Resolved], path: Path) -> None:
    """Source record -> landed row (by the table's row key); merged records -> their survivor."""
    parts = []
    for r in resolved:
        key = r.table.row_key or tuple(list(r.table.schema())[:1])
        # an empty key part (a flat export's 枝番号) is left out, not allowed to empty the whole key
        target_key = pl.concat_str([fmt(f"{k}={{}}", pl.col(k).cast(pl.String)) for k in key], separator=";",
                                   ignore_nulls=True)
        landed = r.landed.select("_rid", "_file", "_line", "_offset", pl.lit("landed").alias("fate"),
                                 target_key.alias("target_key"), pl.lit(None, pl.Int64).alias("survivor_rid"),
                                 pl.lit(None, pl.String).alias("merge_reason"),
                                 pl.lit(None, pl.Float64).alias("match_probability"))
        survivors = landed.select(pl.col("_rid").alias("survivor_rid"), "target_key",
                                  pl.col("_file").alias("__sf"), pl.col("_line").alias("survivor_line"))
        merged = (r.rows.join(r.decisions.lazy().filter(pl.col("decision") == "merged")
                              .select("_rid", "survivor_rid", "reason", "match_probability"), on="_rid")
                  .join(survivors, on="survivor_rid", how="left")
                  .select("_rid", "_file", "_line", "_offset", pl.lit("merged").alias("fate"), "target_key",
                          "survivor_rid", pl.col("reason").alias("merge_reason"), "match_probability",
                          "__sf", "survivor_line"))
        landed = landed.with_columns(pl.lit(None, pl.Int32).alias("__sf"), pl.lit(None, pl.Int64).alias("survivor_line"))
        parts.append(pl.concat([landed, merged], how="vertical").with_columns(pl.lit(r.table.id).alias("target_table")))
    paths = {f.index: f.display for f in run.files}
    (pl.concat(parts, how="vertical").sort("_rid")
     .select(*_stamp(run), pl.col("_offset").alias("byte_offset"), "fate", "target_table", "target_key",
             pl.col("__sf").replace_strict(paths, default=None, return_dtype=pl.String).alias("survivor_file"),
             "survivor_line", "merge_reason", "match_probability", "_rid")
     .sink_parquet(path, compression=TRANSPORT))


def _write_alerts(run: _Run, resolved: list[_Resolved], names: dict, not_landed: pl.Series, path: Path) -> None:
    """Alerts of landed records only: a rejected or merged record's alerts would be noise."""
    fields = ["_rid", "_file", "_line", "_offset", "item", "code", "value", "message"]
    parts = [_scan(run, "alerts", ALERT_WORK).with_columns(pl.lit(None, pl.String).alias("message")).select(fields)]
    parts += [r.findings.lazy().filter(pl.col("level") == "alert")
              .join(r.rows.select("_rid", "_file", "_line", "_offset"), on="_rid").select(fields) for r in resolved]
    alerts = describe(names, pl.concat(parts, how="vertical"))
    (alerts.filter(~pl.col("_rid").is_in(not_landed)).sort("_rid", "item")
     .select(*_stamp(run), pl.col("_offset").alias("byte_offset"), "item", pl.col("code").alias("alert_code"),
             "message", "value", "_rid")
     .sink_parquet(path, compression=TRANSPORT))


NOT_LANDED = "work/not_landed.parquet"  # _rid of every record that is rejected or merged


def _change_files(run: _Run) -> list[Path]:
    """The workers' cleansing_changes files (every value cleansing changed, with its original, in
    the table's columns); a run that changed nothing gets one empty file."""
    folder = run.work / "work" / "changes"
    files = sorted(folder.glob("*.parquet")) if folder.exists() else []
    if not files:
        folder.mkdir(parents=True, exist_ok=True)
        pl.DataFrame(schema=CHANGE_WORK).write_parquet(folder / "empty.parquet")
        files = [folder / "empty.parquet"]
    return files


def _landed_changes(run: _Run) -> pl.LazyFrame:
    """cleansing_changes: the changes of landed records only (a rejected or merged record's
    changes would be noise), as DuckDB loads them (``exclude_rids``)."""
    not_landed = pl.read_parquet(run.work / NOT_LANDED)["_rid"].implode()
    return pl.scan_parquet(_change_files(run)).filter(~pl.col("_rid").is_in(not_landed))


def _write_coverage(run: _Run, path: Path) -> None:
    paths = {f.index: f.display for f in run.files}
    _coverage_totals(run).with_columns(
        pl.lit(run.run_id).alias("run_id"), pl.lit(run.mapping.municipality_code).alias("municipality_code"),
        pl.when(pl.col("standard_code").is_null()).then(pl.lit("unmapped"))
        .when(pl.col("records") == 0).then(pl.lit("unused")).otherwise(pl.lit("used")).alias("status"),
        pl.col("first_file").replace_strict(paths, default=None, return_dtype=pl.String).alias("first_file"),
    ).select("run_id", "municipality_code", "code_table", "item", "legacy_code", "standard_code", "status",
             "records", "first_file", "first_line").write_parquet(path)


def _write_gaiji(run: _Run, path: Path) -> None:
    """Occurrences of each 外字 (private-use character) per item, and what the table maps it to."""
    table = run.mapping.gaiji
    entries = table.entries if table else {}
    mapped = {f"U+{ord(ch):04X}": " ".join(f"U+{ord(c):04X}" for c in rep) for ch, rep in entries.items()}
    mj = {f"U+{ord(ch):04X}": m for ch, m in (table.mj.items() if table else [])}
    counts = pl.concat(run.gaiji_parts or [pl.DataFrame(schema=GAIJI_SCHEMA)], how="vertical")
    (counts.group_by("item", "code").agg(pl.col("records").sum()).sort("code", "item")
     .with_columns(pl.lit(run.run_id).alias("run_id"), pl.lit(run.mapping.municipality_code).alias("municipality_code"),
                   pl.col("code").is_in(list(mapped)).alias("mapped"),
                   pl.col("code").replace_strict(mapped, default=None, return_dtype=pl.String).alias("replacement"),
                   pl.col("code").replace_strict(mj, default=None, return_dtype=pl.String).alias("mj"),
                   pl.lit(table.version if table else None, pl.String).alias("table_version"))
     .select("run_id", "municipality_code", "code", "item", "records", "mapped", "replacement", "mj", "table_version")
     .write_parquet(path))


def _read_raw(run: _Run, where: pl.DataFrame) -> pl.DataFrame:
    """Raw bytes of rejected records, read back from the source files by offset."""
    out_file, out_off, out_raw = [], [], []
    by_file = where.unique().sort("_file", "_offset").partition_by("_file", as_dict=True)
    for (index,), part in by_file.items():
        path = run.files[index].path
        with open(path, "rb") as fh:
            for off, length in part.select("_offset", "_length").iter_rows():
                fh.seek(off)
                out_file.append(index)
                out_off.append(off)
                out_raw.append(fh.read(length))
    return pl.DataFrame({"_file": out_file, "_offset": out_off, "raw_bytes": out_raw},
                        schema={"_file": pl.Int32, "_offset": pl.Int64, "raw_bytes": pl.Binary})


# -- phase 5: reconcile ------------------------------------------------------------------------------

def _reconcile(run: _Run) -> RunSummary:
    """Count every fate back from the written outputs, not from counters kept along the way."""
    t = time.perf_counter()
    out = run.work / "out"
    lineage = pl.scan_parquet(out / "lineage.parquet")
    rejects = pl.scan_parquet(out / "rejects.parquet")
    fates = pl.concat([lineage.select("_rid", "fate"),
                       rejects.select("_rid", pl.lit("rejected").alias("fate"))], how="vertical")
    per_file = (fates.with_columns((pl.col("_rid") // (1 << RID_SHIFT)).cast(pl.Int32).alias("_file"))
                .group_by("_file", "fate").len().collect())
    counts = {(r["_file"], r["fate"]): r["len"] for r in per_file.iter_rows(named=True)}
    problems: list[str] = []
    dup = fates.group_by("_rid").len().filter(pl.col("len") > 1).collect()
    if dup.height:
        problems.append(f"{dup.height} source records have more than one fate (first: _rid {dup['_rid'][0]})")
    landed_rows = 0
    for table_id in _layout_tables(run):
        files = list((out / "parquet" / table_id).rglob("*.parquet"))
        landed_rows += pl.scan_parquet(files).select(pl.len()).collect().item() if files else 0
    landed_lineage = sum(v for (_, fate), v in counts.items() if fate == "landed")
    if landed_rows != landed_lineage:
        problems.append(f"landed tables hold {landed_rows} rows but lineage lists {landed_lineage} landed records")
    files = []
    for f in run.files:
        st: FileStats = f.extractor.stats
        fc = FileCount(path=f.display, sha256=st.sha256, size=st.size, source_records=st.records,
                       landed=counts.get((f.index, "landed"), 0), rejected=counts.get((f.index, "rejected"), 0),
                       merged=counts.get((f.index, "merged"), 0), skipped_rows=st.skipped_rows,
                       blank_records=st.blank_records, padded_records=st.padded_records,
                       findings=tuple(st.findings))
        if not fc.reconciled:
            problems.append(f"{f.display}: {fc.source_records} source records but {fc.landed} landed + "
                            f"{fc.rejected} rejected + {fc.merged} merged")
        files.append(fc)
    alerts = pl.scan_parquet(out / "alerts.parquet").group_by("alert_code").len().collect()
    reasons = rejects.group_by("reason_code").len().collect()
    merged = (lineage.filter(pl.col("fate") == "merged").group_by("merge_reason").len()
              .sort("merge_reason").collect())
    changes_by_rule = (_landed_changes(run)
                       .with_columns(pl.col("rules").str.split("+")).explode("rules")
                       .group_by("rules").len().collect())
    gaiji = pl.read_parquet(out / "gaiji_counts.parquet").group_by("code", "mapped").agg(pl.col("records").sum())
    cov = pl.read_parquet(out / "code_coverage.parquet")
    coverage_counts = []
    for (table_id, item), part in cov.group_by(["code_table", "item"], maintain_order=True):
        unmapped = part.filter(pl.col("status") == "unmapped").sort("records", descending=True)
        coverage_counts.append(CoverageCount(
            code_table=table_id, item=item, used=part.filter(pl.col("status") == "used").height,
            unused=part.filter(pl.col("status") == "unused").height, unmapped=unmapped.height,
            unmapped_codes=tuple((r["legacy_code"], r["records"]) for r in unmapped.iter_rows(named=True))))
    money = _money_totals(run, out, fates)
    landed_values = {}
    for table_id in _layout_tables(run):
        files_ = list((out / "parquet" / table_id).rglob("*.parquet"))
        # the items the run's files give values (the others are null by construction, and are
        # not read back: 150 empty columns of a million rows cost a second)
        items = list(dict.fromkeys(it.id for f in run.files if f.source.table == table_id
                                   for it in f.context.landed_items))
        got = pl.scan_parquet(files_).select([pl.col(i).is_not_null().sum() for i in items]).collect() if files_ else None
        landed_values[table_id] = got.row(0, named=True) if got is not None else {i: 0 for i in items}
    column_flows, value_problems = flows({f.index: (f.display, f.context) for f in run.files}, run.value_parts,
                                         run.item_parts, landed_values)
    problems += value_problems
    run.timings["reconcile"] = time.perf_counter() - t
    m = run.mapping
    summary = RunSummary(
        run_id=run.run_id, tool_version=__version__, municipality_code=m.municipality_code,
        municipality_name=m.municipality_name, layout=m.layout.id, mapping_path=str(run.opts.mapping),
        layout_sha256=m.layout.sha256, layout_file=layout_file(m.layout), overrides=tuple(m.overrides),
        mapping_sha256=m.sha256, dry_run=run.opts.dry_run or run.opts.out is None, files=tuple(files),
        alerts={r["alert_code"]: r["len"] for r in alerts.iter_rows(named=True)},
        rejects_by_reason={r["reason_code"]: r["len"] for r in reasons.iter_rows(named=True)},
        merged_by_reason={r["merge_reason"]: r["len"] for r in merged.iter_rows(named=True)},
        dedup=tuple(run.dedup),
        changes_by_rule={r["rules"]: r["len"] for r in changes_by_rule.iter_rows(named=True)},
        coverage=tuple(coverage_counts), reconciliation_problems=tuple(problems),
        gaiji_mapped={r["code"]: r["records"] for r in gaiji.filter(pl.col("mapped")).sort("code").iter_rows(named=True)},
        gaiji_unmapped={r["code"]: r["records"]
                        for r in gaiji.filter(~pl.col("mapped")).sort("code").iter_rows(named=True)},
        gaiji_table=(f"{m.gaiji.path} (version {m.gaiji.version})" if m.gaiji else None),
        notes=tuple(run.notes) + tuple(f"{t}: references {', '.join(m.layout.tables[t].references[j].items)} -> "
                    f"{m.layout.tables[t].references[j].layout}.{m.layout.tables[t].references[j].table} not checked "
                    f"(no --out to read the referenced data from)"
                    for (t, j), keys in sorted(run.reference_keys.items()) if keys is None),
        money=tuple(money), columns=tuple(column_flows),
        not_provided=tuple({"table": s.table, "item": i, "reason": why} for s in m.sources for i, why in s.not_provided),
        constants=tuple({"table": s.table, "item": im.item, "value": im.value} for s in m.sources for im in s.items
                        if im.value is not None),
        thresholds=m.thresholds, rules=_rule_counts(rejects, pl.scan_parquet(out / "alerts.parquet")),
        timings=dict(run.timings))
    (run.work / "summary.json").write_text(summary.to_json(), encoding="utf-8")
    return summary


def _money_totals(run: _Run, out: Path, fates: pl.LazyFrame) -> list[dict]:
    """金額照合: per money item and group (the layout's money_totals_by, e.g. 年度, 税目, 期別), the
    sum over every parsed source record, and over the landed (read back from the written
    Parquet), rejected and merged ones. source = landed + rejected + merged must hold to the yen.
    Records whose amount is not a whole number are counted (``unparsed``), not summed; records
    unreadable as a whole (encoding, field count) have no amount and are counted per table."""
    results = []
    for table in _layout_tables(run).values():
        items = table.money_items
        if not items:
            continue
        by = list(table.money_totals_by)
        sums = [pl.col(i).cast(pl.Int128).sum().alias(i) for i in items]
        rows = _scan(run, f"rows/{table.id}", _rows_schema(table)).select("_rid", *by, *items)
        source = rows.group_by(by).agg(*sums, *[pl.col(i).is_null().sum().alias(f"{i}__unparsed") for i in items])
        by_fate = (rows.join(fates, on="_rid", how="left").filter(pl.col("fate").is_in(["rejected", "merged"]))
                   .group_by(*by, "fate").agg(*sums))
        files = list((out / "parquet" / table.id).rglob("*.parquet"))
        landed = (pl.scan_parquet(files).group_by(by).agg(*sums) if files
                  else pl.LazyFrame(schema={**{b: rows.collect_schema()[b] for b in by}, **{i: pl.Int128 for i in items}}))
        src, fate_sums, land = source.collect(), by_fate.collect(), landed.collect()
        keys = pl.concat([src.select(by), land.select(by)], how="vertical").unique().sort(by, nulls_last=True)

        def lookup(frame: pl.DataFrame, key: dict, col: str, fate: str | None = None) -> int:
            f = frame
            for b, v in key.items():
                f = f.filter(pl.col(b).is_null() if v is None else pl.col(b) == v)
            if fate is not None:
                f = f.filter(pl.col("fate") == fate)
            return int(f[col].sum()) if f.height else 0

        for key in keys.iter_rows(named=True):
            for item in items:
                entry = {"table": table.id, "item": item, "by": key, "source": lookup(src, key, item),
                         "landed": lookup(land, key, item), "rejected": lookup(fate_sums, key, item, "rejected"),
                         "merged": lookup(fate_sums, key, item, "merged"),
                         "unparsed_records": lookup(src, key, f"{item}__unparsed")}
                entry["reconciled"] = entry["source"] == entry["landed"] + entry["rejected"] + entry["merged"]
                results.append(entry)
    return results


def _rule_counts(rejects: pl.LazyFrame, alerts: pl.LazyFrame, examples: int = 5) -> tuple[RuleCount, ...]:
    """Records per reject reason / alert code and item, with the first places (file:line)."""
    out = []
    for kind, frame, code in (("reject", rejects, "reason_code"), ("alert", alerts, "alert_code")):
        place = pl.concat_str([pl.col("source_file"), pl.lit(":"),
                               pl.coalesce(pl.col("source_line").cast(pl.String),
                                           pl.lit("@") + pl.col("byte_offset").cast(pl.String))])
        counts = (frame.sort("source_file", "source_line", "byte_offset")
                  .group_by(code, "item", maintain_order=True)
                  .agg(pl.len().alias("records"), place.head(examples).alias("examples"))
                  .sort(["records", code, "item"], descending=[True, False, False], nulls_last=False).collect())
        out += [RuleCount(kind, r[code], r["item"], r["records"], tuple(r["examples"]))
                for r in counts.iter_rows(named=True)]
    return tuple(out)


def _run_row(run: _Run, summary: RunSummary, started: dt.datetime) -> dict:
    t = summary.totals
    return {
        "run_id": run.run_id, "started_at": started.replace(tzinfo=None),
        "finished_at": dt.datetime.now(dt.timezone.utc).replace(tzinfo=None), "tool_version": __version__,
        "municipality_code": run.mapping.municipality_code, "layout": run.mapping.layout.id,
        "mapping_path": str(run.opts.mapping), "mapping_sha256": run.mapping.sha256,
        "input_files": json.dumps([{"path": f.path, "sha256": f.sha256, "size": f.size} for f in summary.files]),
        "source_records": t["source_records"], "landed": t["landed"], "rejected": t["rejected"],
        "merged": t["merged"], "alerts": sum(summary.alerts.values()), "reconciled": summary.reconciled,
        "exit_code": int(summary.exit_code), "timings": json.dumps(summary.timings), "summary": summary.to_json(),
        # what the run did not take from the export, and what it relaxed: queryable without the summary
        "layout_sha256": summary.layout_sha256,
        "not_provided": json.dumps(list(summary.not_provided), ensure_ascii=False),
        "constants": json.dumps(list(summary.constants), ensure_ascii=False),
        "overrides": json.dumps(list(summary.overrides), ensure_ascii=False),
    }

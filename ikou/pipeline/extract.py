"""Phase 2, ``extract``: stream each file in chunks through the row stages (stages.py) and the
pandera schema; write each chunk's rows, issues and changes to the run's staging folder. Code
tables whose policy is ``fail`` stop the run here, again before anything is landed."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import polars as pl

from ikou.errors import IkouError
from ikou.i18n import tr
from ikou.pipeline.findings import COVERAGE_SCHEMA, changes, coverage, gaiji_counts, issues
from ikou.pipeline.stages import META, Context, row_stages, run_stages, staged_columns
from ikou.pipeline.state import (
    ALERT_WORK,
    CHANGE_WORK,
    REJECT_X_WORK,
    WHERE_WORK,
    RunState,
    rid_expr,
    stamp,
    write_manifest,
    write_work,
)
from ikou.pipeline.values import chunk_counts, item_counts
from ikou.progress import Progress
from ikou.reasons import priority
from ikou.scope import SCOPE_RULE, matched_rule, scope_columns
from ikou.validators.schema import build_schema


def extract(run: RunState, progress: Progress | None) -> None:
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
            stages = row_stages(ctx, cleansing="cleanse" not in run.opts.without)
            legacy_to_item = {col: item for item, col in ctx.columns.items()}
            before = 0
            for c, chunk in enumerate(f.extractor.chunks()):
                while len(pending) >= WORKERS:
                    _fold(run, pending.popleft().result())
                part = f"f{f.index:04d}-c{c:06d}.parquet"
                pending.append(pool.submit(_transform_chunk, run, ctx, ts, stages, f.index, chunk, part,
                                           legacy_to_item))
                size = f.extractor.stats.size
                done += size - before
                before = size
                if progress:
                    progress.advance(done, total, sum(x.extractor.stats.records for x in run.files))
        while pending:
            _fold(run, pending.popleft().result())
    write_manifest(run)
    run.timings["extract"] = time.perf_counter() - t


@dataclass(frozen=True)
class ChunkResult:
    """What a worker found in one chunk besides the files it staged; the main thread folds the
    results in submission order (file, then chunk), whatever order the workers finish in."""
    file_index: int
    part: str
    rows: int  # records staged as rows (landing, or rejected by a row rule)
    rejected_whole: int  # records the extractor rejected whole (rejects_x)
    values: tuple[pl.DataFrame, ...]  # value counts (values.py)
    items: pl.DataFrame  # candidate values per item
    coverage: pl.DataFrame
    gaiji: pl.DataFrame | None


def _fold(run: RunState, r: ChunkResult) -> None:
    run.value_parts += r.values
    run.item_parts.append(r.items)
    run.coverage_parts.append(r.coverage)
    if r.gaiji is not None:
        run.gaiji_parts.append(r.gaiji)
    run.chunks.append(r)

WORKERS = 2


def _transform_chunk(run: RunState, ctx: Context, ts, stages, file_index: int, chunk, part: str,
                     legacy_to_item: dict[str, str]) -> ChunkResult:
    lf = chunk.frame.lazy().with_columns(pl.lit(file_index, pl.Int32).alias("_file"))
    uncounted = [c.column for c in ctx.feeds.columns if c.fate in ("dropped", "structural")]
    left_behind = []
    if uncounted:  # how many values the mapping leaves behind, for the summary
        got = chunk.frame.select([(pl.col(c).is_not_null() & (pl.col(c) != "")).sum().alias(c) for c in uncounted])
        left_behind.append(pl.DataFrame({"column": uncounted, "bucket": ["source"] * len(uncounted),
                                             "n": [int(v) for v in got.row(0)], "_file": [file_index] * len(uncounted)},
                                            schema={"column": pl.String, "bucket": pl.String, "n": pl.Int64,
                                                    "_file": pl.Int32}))
    if "_raw" not in chunk.frame.columns:  # only XML records carry their raw form; others are re-read by offset
        lf = lf.with_columns(pl.lit(None, pl.Binary).alias("_raw"))
    debug_hook = _debug_writer(run, part) if run.opts.debug else None
    frame = run_stages(lf, stages, debug_hook).collect().with_row_index("_row").with_columns(
        pl.col("_row").cast(pl.Int64), rid_expr())
    frame = _with_scope(run, ctx, chunk.frame, frame)
    if run.opts.fault is not None:  # fault injection for tests: a stage losing values, say
        frame = run.opts.fault("staged", frame)
    values, items, cov, gaiji = _write_chunk(run, ctx, ts, frame, part)
    if chunk.rejects.height:
        x = chunk.rejects.with_columns(
            pl.lit(file_index, pl.Int32).alias("_file"),
            pl.col("item").replace_strict(legacy_to_item, default=pl.col("item")),
        ).with_columns(rid_expr())
        write_work(run, "rejects_x", part, x.cast(REJECT_X_WORK).select(list(REJECT_X_WORK)))
    return ChunkResult(file_index, part, frame.height, chunk.rejects.height, (*left_behind, values), items, cov, gaiji)


def _with_scope(run: RunState, ctx: Context, exported: pl.DataFrame, frame: pl.DataFrame) -> pl.DataFrame:
    """``_scope_rule``: the scope rule (ikou/scope.py) that excludes each record, or null. Rules
    read the staged values and, where they name an export column, its text as exported."""
    columns = [c for c in scope_columns(run.mapping.scope, ctx.table.id) if c in exported.columns]
    if columns:
        assert exported.height == frame.height  # the row stages keep every record, in order
        frame = frame.hstack(exported.select([pl.col(c).cast(pl.String).alias(f"__scope_column:{c}") for c in columns]))
    frame = frame.with_columns(matched_rule(run.mapping.scope, ctx.table.id, set(frame.columns)))
    return frame.drop([f"__scope_column:{c}" for c in columns])


def _debug_writer(run: RunState, part: str) -> Callable[[int, str, pl.LazyFrame], None]:
    def write(i: int, name: str, lf: pl.LazyFrame) -> None:
        write_work(run, f"debug/{i + 1:02d}_{name}", part, lf.collect())
    return write


def _write_chunk(run: RunState, ctx: Context, ts, frame: pl.DataFrame,
                 part: str) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame | None]:
    """Stage a chunk's rows, alerts and changes; return its value counts, candidate values per
    item, code coverage and 外字 counts."""
    without = run.opts.without
    found = issues(ctx, ts, frame, pandera="pandera" not in without)
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
    excluded = pl.col(SCOPE_RULE).is_not_null()  # out of scope, whatever the row rules found
    rejected = pl.col("_row").is_in(primary["_row"].implode()) & ~excluded
    values, cleared = chunk_counts(ctx, frame, rejected, excluded)
    values = values.with_columns(pl.lit(ctx_file(run, ctx, frame), pl.Int32).alias("_file"))
    items = item_counts(ctx, frame, rejected | excluded).with_columns(pl.lit(ctx.table.id).alias("table"))
    rows = (frame.select("_row", "_rid", *META, "_raw", *staged_columns(ctx), SCOPE_RULE)
            .join(cleared, on="_row", how="left").join(primary, on="_row", how="left"))
    write_work(run, f"rows/{ctx.table.id}", part, rows.drop("_row"))
    alerts = found.filter(pl.col("level") == "alert")
    if alerts.height:
        write_work(run, "alerts", part, alerts.join(frame.select("_row", *WHERE_WORK), on="_row").select(list(ALERT_WORK)))
    ch = changes(ctx, frame) if "changes" not in without else frame.clear().select()
    if ch.height:
        # already in the cleansing_changes table's columns: DuckDB loads these files as they are
        sensitive = [it.id for it in ctx.table.items if it.sensitive]
        write_work(run, "changes", part, ch.sort("_row", "item").join(frame.select("_row", *WHERE_WORK), on="_row",
                                                                  maintain_order="left").select(
            *stamp(run), "item", "rules", "original", "cleansed",
            pl.col("item").is_in(sensitive).alias("sensitive"), "_rid").cast(CHANGE_WORK))
    return values, items, coverage(ctx, frame), gaiji_counts(ctx, frame) if "gaiji" not in without else None


def ctx_file(run: RunState, ctx: Context, frame: pl.DataFrame) -> int:
    """The index of the file a chunk came from."""
    return int(frame["_file"][0]) if frame.height else next(f.index for f in run.files if f.context is ctx)


def check_fail_codes(run: RunState) -> None:
    """Code tables with ``unmapped: fail`` stop the run when the data holds codes they lack."""
    fail_tables = {cid for cid, cm in run.mapping.code_tables.items() if cm.unmapped == "fail"}
    if not fail_tables:
        return
    cov = coverage_totals(run)
    bad = cov.filter(pl.col("code_table").is_in(list(fail_tables)) & pl.col("standard_code").is_null()
                     & (pl.col("records") > 0))
    if bad.height:
        paths = {f.index: f.display for f in run.files}
        problems = [f"code table {r['code_table']} (item {r['item']}): legacy code {r['legacy_code']!r} is not "
                    f"mapped ({r['records']} records, first at {paths.get(r['first_file'], '?')}:{r['first_line']})"
                    for r in bad.sort("code_table", "legacy_code").iter_rows(named=True)]
        raise IkouError(tr("codes found in the data are missing from code tables marked 'unmapped: fail'; "
                           "nothing was written"), problems=problems,
                        hint=tr("add the codes to the mapping's code_tables, or set unmapped: reject or alert"))


def coverage_totals(run: RunState) -> pl.DataFrame:
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

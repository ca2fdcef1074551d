"""Phase 4, ``assemble``: the landed table, rejects (with raw records), alerts, lineage, cleansing
changes, code coverage, 外字 counts and the review queue, as Parquet in the staging folder; each
handed to the lander as soon as it is written."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from ikou.cleansing.review_decisions import review_headers
from ikou.exprs import fmt, key_hash, repeated_hashes
from ikou.extract import RAW_UTF8
from ikou.pipeline import landing, outputs
from ikou.pipeline.delta import write_delta
from ikou.pipeline.extract import coverage_totals
from ikou.pipeline.findings import GAIJI_SCHEMA, describe
from ikou.pipeline.resolve import REVIEW_LEAD, Resolved
from ikou.pipeline.stages import landed_columns, staged_columns
from ikou.pipeline.state import (
    ALERT_WORK,
    CHANGE_WORK,
    LANDED_ZSTD_LEVEL,
    NOT_LANDED,
    REJECT_FIELDS,
    REJECT_X_WORK,
    TRANSPORT,
    RunState,
    scan_work,
    source_name,
    stamp,
    write_manifest,
)
from ikou.reconciliation import review_page
from ikou.scope import SCOPE_RULE


def assemble(run: RunState, resolved: list[Resolved], lander: landing.Landing | None) -> None:
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
        "delta": lambda path: _write_delta(run, resolved, path),  # after lineage: a delta row names its record by it
        "alerts": lambda path: _write_alerts(run, resolved, names, not_landed, path),
        "code_coverage": lambda path: _write_coverage(run, path),
        "gaiji_counts": lambda path: _write_gaiji(run, path),
        "review_queue": lambda path: _write_review(run, resolved, path),
        "excluded": lambda path: _write_excluded(run, resolved, path),
    }
    assert set(writers) | {"cleansing_changes"} == set(outputs.RUN_TABLES)
    changes = _change_files(run)
    outputs.conform("cleansing_changes", pl.read_parquet_schema(changes[0]))
    if lander is not None:
        # a million changed values are not copied once more: DuckDB reads the workers' files
        lander.load("cleansing_changes", changes, exclude_rids=run.work / NOT_LANDED)
    for table, write in writers.items():
        write(out / f"{table}.parquet")
        # as declared, before DuckDB loads it (a difference is a defect: the run stops, exit 3)
        outputs.conform(table, pl.read_parquet_schema(out / f"{table}.parquet"))
        if lander is not None:
            lander.load(table, [out / f"{table}.parquet"])
    run.timings["assemble"] = time.perf_counter() - t
    write_manifest(run, "assembled")
    if run.opts.fault is not None:  # fault injection for tests: the written outputs tampered with
        run.opts.fault("assembled", out)


def _write_delta(run: RunState, resolved: list[Resolved], path: Path) -> None:
    """The run table ``delta`` (pipeline/delta.py; empty for a full run), timed on its own."""
    t = time.perf_counter()
    run.delta_unchanged.update(write_delta(run.work, run.plan.delta_base, {r.table.id: r.table for r in resolved},
                                           (run.run_id, run.mapping.municipality_code), path))
    if run.plan.delta_base is not None:
        run.timings["delta"] = time.perf_counter() - t


def _write_review(run: RunState, resolved: list[Resolved], path: Path) -> None:
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
        names_ja = {it.id: it.name_ja for it in r.table.items if it.name_ja}
        items = [(i, f"{names_ja.get(i, i)} ({i})") for i in r.table.matching.items if f"{i}_1" in csv_frame.columns]
        review_page.write(folder / f"review_queue_{r.table.id}.html", csv_frame, items,
                          f"名寄せの確認 {run.mapping.municipality_name} {r.table.id} "
                          f"({run.mapping.municipality_code}, {run.run_id})")
        csv_frame = csv_frame.rename(review_headers(csv_frame.columns, names_ja))
        (folder / f"review_queue_{r.table.id}.csv").write_bytes(
            b"\xef\xbb\xbf" + csv_frame.write_csv(line_terminator="\r\n").encode("utf-8"))
        (folder / f"model_{r.table.id}.json").write_text(json.dumps(r.model, ensure_ascii=False, indent=1),
                                                         encoding="utf-8")


def _write_rejects(run: RunState, resolved: list[Resolved], names: dict, path: Path) -> None:
    parts = []
    for r in resolved:
        parts.append(r.rows.filter(pl.col("_reject_code").is_not_null() & pl.col(SCOPE_RULE).is_null()).select(
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
    rejects = _with_raw_bytes(run, describe(names, pl.concat(parts, how="vertical")).collect())
    x = scan_work(run, "rejects_x", REJECT_X_WORK).select(
        "_rid", "_file", "_line", "_offset", "_length", pl.col("reason_code").alias("code"), "item",
        pl.lit(None, pl.String).alias("value"), "message", pl.col("reason_code").alias("reasons"), "raw_bytes")
    rejects = pl.concat([rejects.select(x.collect_schema().names()), x.collect()], how="vertical_relaxed").sort("_rid")
    _with_raw_text(run, rejects).select(
        *stamp(run), source_name(run), pl.col("_offset").alias("byte_offset"), pl.col("code").alias("reason_code"),
        "item",
        "message", "reasons", "raw_record", "raw_bytes", "_rid").write_parquet(path)


def _write_excluded(run: RunState, resolved: list[Resolved], path: Path) -> None:
    """Records out of the migration's scope, with the rule that excluded them and their raw record."""
    parts = [r.rows.select("_rid", "_file", "_line", "_offset", "_length", "_raw")
             .join(r.excluded.lazy(), on="_rid").with_columns(pl.lit(r.table.id).alias("target_table"))
             for r in resolved if r.excluded is not None and r.excluded.height]
    schema = {"_rid": pl.Int64, "_file": pl.Int32, "_line": pl.Int64, "_offset": pl.Int64, "_length": pl.Int64,
              "_raw": pl.Binary, SCOPE_RULE: pl.String, "target_table": pl.String}
    frame = pl.concat(parts, how="vertical").collect() if parts else pl.DataFrame(schema=schema)
    excluded = _with_raw_text(run, _with_raw_bytes(run, frame).sort("_rid"))  # a join keeps no order
    excluded.select(*stamp(run), pl.col("_offset").alias("byte_offset"), "target_table",
                    pl.col(SCOPE_RULE).alias("scope_rule"), "raw_record", "raw_bytes", "_rid").write_parquet(path)


def _with_raw_bytes(run: RunState, frame: pl.DataFrame) -> pl.DataFrame:
    """``raw_bytes`` in place of ``_raw``: CSV and fixed-width records are read back from their
    file by offset; XML and workbook records brought their raw form along."""
    reread = frame.filter(pl.col("_raw").is_null()).select("_file", "_offset", "_length")
    return (frame.join(_read_raw(run, reread), on=["_file", "_offset"], how="left")
            .with_columns(pl.coalesce("_raw", "raw_bytes").alias("raw_bytes")).drop("_raw"))


def _with_raw_text(run: RunState, frame: pl.DataFrame) -> pl.DataFrame:
    """``raw_record``: the raw record as text, undecodable bytes shown as \\x85 escapes. XML
    records are stored as UTF-8 (lxml serialises them so); the others in their file's encoding."""
    codecs_of = {f.index: "utf-8" if f.source.format in RAW_UTF8 else f.source.codec for f in run.files}
    raw_text = [None if raw is None else raw.decode(codecs_of[index], "backslashreplace")
                for index, raw in frame.select("_file", "raw_bytes").iter_rows()]
    return frame.with_columns(pl.Series("raw_record", raw_text, dtype=pl.String))


def _write_lineage(run: RunState, resolved: list[Resolved], path: Path) -> None:
    """Source record -> landed row (by the table's row key); merged records -> their survivor.
    Written staged chunk by staged chunk, in record order (the chunks' names sort in it), so
    the memory it takes is one chunk's, whatever the size of the export: a streaming sink of
    the same plan held ~0.2 GB per million records."""
    paths = {f.index: f.display for f in run.files}
    plans = {r.table.id: _LineagePlan.of(r, paths) for r in resolved}
    parts = [((name, i), r, part) for i, r in enumerate(resolved) for name, part in r.parts]
    writer = None
    try:
        for _, r, part in sorted(parts, key=lambda p: p[0]):
            chunk = plans[r.table.id].chunk(r, part).with_columns(pl.lit(r.table.id).alias("target_table"))
            table = _lineage_columns(run, chunk, paths).to_arrow()
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema, compression=TRANSPORT)
            writer.write_table(table.cast(writer.schema))
    finally:
        if writer is not None:
            writer.close()
    if writer is None:  # no staged rows at all
        empty = _LineagePlan.named(pl.DataFrame(schema=_NAMING), (), pl.Series([], dtype=pl.String), paths)
        _lineage_columns(run, _with_survivor(empty).with_columns(pl.lit(None, pl.String).alias("target_table")),
                         paths).write_parquet(path, compression=TRANSPORT)
    _weak_key_notes(run, resolved, path)


_NAMING = {"_rid": pl.Int64, "_file": pl.Int32, "_line": pl.Int64, "_offset": pl.Int64}
SURVIVOR_FIELDS = ["_rid", "_file", "_line", "_offset", "fate", "target_key", "survivor_rid", "merge_reason",
                   "match_probability", "__sf", "survivor_line"]


def _with_survivor(landed: pl.DataFrame) -> pl.DataFrame:
    return landed.with_columns(pl.lit(None, pl.Int64).alias("survivor_rid"), pl.lit(None, pl.String).alias("merge_reason"),
                               pl.lit(None, pl.Float64).alias("match_probability"), pl.lit(None, pl.Int32).alias("__sf"),
                               pl.lit(None, pl.Int64).alias("survivor_line")).select(SURVIVOR_FIELDS)


def _lineage_columns(run: RunState, chunk: pl.DataFrame, paths: dict[int, str]) -> pl.DataFrame:
    return chunk.select(*stamp(run), pl.col("_offset").alias("byte_offset"), "fate", "target_table", "target_key",
                        pl.col("__sf").replace_strict(paths, default=None, return_dtype=pl.String).alias("survivor_file"),
                        "survivor_line", "merge_reason", "match_probability", "_rid")


@dataclass(frozen=True)
class _LineagePlan:
    """What one table's lineage needs beyond a chunk: its row key, the landed keys that repeat
    (those rows are named by their source record too) and the merged records with their survivor."""
    key: tuple[str, ...]
    repeated: pl.Series  # landed row keys (as lineage writes them) held by more than one landed row
    merged: pl.DataFrame  # SURVIVOR_FIELDS of every merged record, in record order
    paths: dict[int, str]  # file index -> the file's name in reports

    @classmethod
    def of(cls, r: Resolved, paths: dict[int, str]) -> _LineagePlan:
        key = tuple(r.table.row_key or tuple(list(r.table.schema())[:1]))
        # candidates by the key's hash (8 bytes a row), confirmed on the few rows whose hash repeats
        candidates = r.landed.filter(key_hash(key).is_in(repeated_hashes(r.landed, key).implode()))
        keys = candidates.select(_row_key(key).alias("__key")).collect()
        repeated = keys.group_by("__key").len().filter(pl.col("len") > 1)["__key"]
        merges = r.decisions.filter(pl.col("decision") == "merged").select(
            "_rid", "survivor_rid", "reason", "match_probability")
        survivors = cls.named(r.landed.filter(pl.col("_rid").is_in(merges["survivor_rid"].implode()))
                              .select(*_NAMING, *key).collect(), key, repeated, paths)
        merged = (r.rows.filter(pl.col("_rid").is_in(merges["_rid"].implode())).select(*_NAMING).collect()
                  .join(merges, on="_rid")
                  .join(survivors.select(pl.col("_rid").alias("survivor_rid"), "target_key", pl.col("_file").alias("__sf"),
                                         pl.col("_line").alias("survivor_line")), on="survivor_rid", how="left")
                  .select("_rid", "_file", "_line", "_offset", pl.lit("merged").alias("fate"), "target_key",
                          "survivor_rid", pl.col("reason").alias("merge_reason"), "match_probability", "__sf",
                          "survivor_line")
                  .sort("_rid"))
        return cls(key, repeated, merged, paths)

    @staticmethod
    def named(frame: pl.DataFrame, key: tuple[str, ...], repeated: pl.Series, paths: dict[int, str]) -> pl.DataFrame:
        """Landed rows' lineage: each names its row by the table's row key. A key every part of
        which is blank, or one another landed row has too (row_key not unique), names its row by
        its source record as well: every landed row stays traceable."""
        keyed = frame.with_columns((_row_key(key) if key else pl.lit(None, pl.String)).alias("__key"))
        source = fmt("source={}:{}", pl.col("_file").replace_strict(paths, return_dtype=pl.String), pl.col("_line"))
        blank = pl.col("__key").is_null() | (pl.col("__key") == "")
        weak = blank | pl.col("__key").is_in(repeated.implode())
        return keyed.select("_rid", "_file", "_line", "_offset", pl.lit("landed").alias("fate"),
                            pl.when(weak).then(pl.concat_str([pl.when(~blank).then("__key"), source],
                                                             separator=";", ignore_nulls=True))
                            .otherwise(pl.col("__key")).alias("target_key"))

    def chunk(self, r: Resolved, part: pl.LazyFrame) -> pl.DataFrame:
        """The lineage of one staged chunk's records, in record order: its landed rows and the
        merged records among them."""
        span = part.select(pl.col("_rid").min().alias("lo"), pl.col("_rid").max().alias("hi")).collect()
        landed = _with_survivor(self.named(r.landed_of(part).select(*_NAMING, *self.key).collect(),
                                           self.key, self.repeated, self.paths))
        lo, hi = span["lo"][0], span["hi"][0]
        if lo is None:
            return landed
        merged = self.merged.filter(pl.col("_rid").is_between(lo, hi))
        return pl.concat([landed, merged], how="vertical").sort("_rid") if merged.height else landed


def _row_key(key: tuple[str, ...]) -> pl.Expr:
    # an empty key part (a flat export's 枝番号) is left out, not allowed to empty the whole key
    return pl.concat_str([fmt(f"{k}={{}}", pl.col(k).cast(pl.String)) for k in key], separator=";", ignore_nulls=True)


def _weak_key_notes(run: RunState, resolved: list[Resolved], lineage: Path) -> None:
    """Say per table how many landed rows lineage had to name by their source record (a blank or
    repeated row key), counted from the written lineage (two columns): no second pass over the rows."""
    named = pl.col("target_key").str.contains(r"(^|;)source=[^;]*:[0-9]+$")
    counts = (pl.scan_parquet(lineage).filter((pl.col("fate") == "landed") & named)
              .group_by("target_table").agg(pl.len().alias("weak"),
                                            pl.col("target_key").str.starts_with("source=").sum().alias("blank"))
              .collect())
    weak = {r["target_table"]: (r["weak"], r["blank"]) for r in counts.iter_rows(named=True)}
    for r in resolved:
        if r.table.id in weak:
            n, blank = weak[r.table.id]
            key = r.table.row_key or tuple(list(r.table.schema())[:1])
            run.notes.append(f"{r.table.id}: {n:,} landed row(s) have a row key ({', '.join(key)}) that is "
                             f"blank ({blank:,}) or not unique: lineage names them by their source record too")


def _write_alerts(run: RunState, resolved: list[Resolved], names: dict, not_landed: pl.Series, path: Path) -> None:
    """Alerts of landed records only: a rejected or merged record's alerts would be noise."""
    fields = ["_rid", "_file", "_line", "_offset", "item", "code", "value", "message"]
    parts = [scan_work(run, "alerts", ALERT_WORK).with_columns(pl.lit(None, pl.String).alias("message")).select(fields)]
    parts += [r.findings.lazy().filter(pl.col("level") == "alert")
              .join(r.rows.select("_rid", "_file", "_line", "_offset"), on="_rid").select(fields) for r in resolved]
    alerts = describe(names, pl.concat(parts, how="vertical"))
    (alerts.filter(~pl.col("_rid").is_in(not_landed)).sort("_rid", "item")
     .select(*stamp(run), pl.col("_offset").alias("byte_offset"), "item", pl.col("code").alias("alert_code"),
             "message", "value", "_rid")
     .sink_parquet(path, compression=TRANSPORT))


def _change_files(run: RunState) -> list[Path]:
    """The workers' cleansing_changes files (every value cleansing changed, with its original, in
    the table's columns); a run that changed nothing gets one empty file."""
    folder = run.work / "work" / "changes"
    files = sorted(folder.glob("*.parquet")) if folder.exists() else []
    if not files:
        folder.mkdir(parents=True, exist_ok=True)
        pl.DataFrame(schema=CHANGE_WORK).write_parquet(folder / "empty.parquet")
        files = [folder / "empty.parquet"]
    return files


def landed_changes(run: RunState) -> pl.LazyFrame:
    """cleansing_changes: the changes of landed records only (a rejected or merged record's
    changes would be noise), as DuckDB loads them (``exclude_rids``)."""
    not_landed = pl.read_parquet(run.work / NOT_LANDED)["_rid"].implode()
    return pl.scan_parquet(_change_files(run)).filter(~pl.col("_rid").is_in(not_landed))


def _write_coverage(run: RunState, path: Path) -> None:
    paths = {f.index: f.display for f in run.files}
    coverage_totals(run).with_columns(
        pl.lit(run.run_id).alias("run_id"), pl.lit(run.mapping.municipality_code).alias("municipality_code"),
        pl.when(pl.col("standard_code").is_null()).then(pl.lit("unmapped"))
        .when(pl.col("records") == 0).then(pl.lit("unused")).otherwise(pl.lit("used")).alias("status"),
        pl.col("first_file").replace_strict(paths, default=None, return_dtype=pl.String).alias("first_file"),
    ).select("run_id", "municipality_code", "code_table", "item", "legacy_code", "standard_code", "status",
             "records", "first_file", "first_line").write_parquet(path)


def _write_gaiji(run: RunState, path: Path) -> None:
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


def _read_raw(run: RunState, where: pl.DataFrame) -> pl.DataFrame:
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

"""What the phases of a run share: the options, the input files, the run's state (staging folder,
per-chunk results, timings) and the staged work files' schemas and helpers."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from ikou import __version__
from ikou.exprs import fmt
from ikou.extract import CHUNK_BYTES, REJECT_SCHEMA, Extractor
from ikou.i18n import tr
from ikou.layout import Table
from ikou.mapping import Mapping, Source
from ikou.pipeline import outputs
from ikou.pipeline.feeds import EXTRAS, EXTRAS_DTYPE
from ikou.pipeline.stages import META, Context
from ikou.pipeline.values import CLEARED
from ikou.scope import SCOPE_RULE

log = logging.getLogger("ikou")

RID_SHIFT = 40  # _rid = _file << 40 | _line: one integer identity per source record

# the run tables' Parquet files only carry rows into DuckDB: fast compression, not small files
TRANSPORT = "snappy"

# the landed Parquet is kept: zstd, at level 1 (on 1M residents 0.6 CPU-s less than the default
# level 3, and a file no larger)
LANDED_ZSTD_LEVEL = 1


# the parts a benchmark may take away (RunOptions.without): text profiles and date parsing, pandera's
# data checks, the cleansing_changes rows, the 外字 counts, the DuckDB copy of the layout tables
ABLATABLE = ("cleanse", "pandera", "changes", "gaiji", "duckdb_table")


@dataclass(frozen=True)
class RunOptions:
    mapping: Path
    input_dir: Path
    out: Path | None
    dry_run: bool = False
    debug: bool = False
    chunk_bytes: int = CHUNK_BYTES
    code_tables: dict | None = None  # a 自治体クラウド group's code tables (raw, overrides merged)
    # Fault injection for tests (no command-line option sets it; a test hands it to the CLI as
    # ``obj={"fault": f}``): called at each point below with a value, returning the value to go on
    # with. "staged": a chunk's DataFrame after the row stages; "landed": the landed table's
    # LazyFrame before it is written; "assembled": the staged out/ folder, before reconcile;
    # "load": a table's name, inside the landing transaction before it is replaced; "swap": None,
    # after the commit, before the Parquet partitions are moved into place; "summary": None, after
    # the swap, before summary.json is put in place; "training": a splink training rule, before
    # probable dedup's EM runs on it.
    fault: Callable[[str, Any], Any] | None = None
    # Benchmark ablation (bench/ablation.py, never a real migration: the output is wrong by
    # construction): parts of the run replaced by nothing, from ABLATABLE.
    without: frozenset[str] = frozenset()
    # a delta run (差分移行): the run id in ``out`` (or the OUT folder) the delta starts from
    delta_from: str | None = None

    def __post_init__(self) -> None:
        unknown = set(self.without) - set(ABLATABLE)
        if unknown:
            raise ValueError(f"unknown part(s) {', '.join(sorted(unknown))}: choose from {', '.join(ABLATABLE)}")


@dataclass
class InputFile:
    index: int
    source: Source
    path: Path
    display: str
    extractor: Extractor
    context: Context | None = None


@dataclass(frozen=True)
class Plan:
    """Phase 1's output, what ``check`` hands to every later phase: the mapping (with its layout),
    the input files with their extractors and resolved feeds, the run's id, the reviewers' dedup
    decisions and the keys layout references point at. Everything file-level has been checked."""
    mapping: Mapping
    files: tuple[InputFile, ...]
    run_id: str
    started: dt.datetime
    decisions: pl.DataFrame  # reviewers' dedup decisions (empty without probabilistic dedup)
    # (table, reference index) -> the keys landed in the referenced table (None: not checked)
    reference_keys: dict[tuple[str, int], pl.DataFrame | None] = field(default_factory=dict)
    delta_base: Any = None  # pipeline/delta.DeltaBase: the run a delta run starts from (None: a full run)


@dataclass
class RunState:
    """The run as it goes: the plan, the staging folder, and what extract accumulates chunk by
    chunk (folded in submission order) for the later phases."""
    opts: RunOptions
    plan: Plan
    work: Path
    timings: dict[str, float] = field(default_factory=dict)
    coverage_parts: list[pl.DataFrame] = field(default_factory=list)
    value_parts: list[pl.DataFrame] = field(default_factory=list)  # value counts per chunk (pipeline/values.py)
    item_parts: list[pl.DataFrame] = field(default_factory=list)  # candidate values per item, per chunk
    gaiji_parts: list[pl.DataFrame] = field(default_factory=list)
    chunks: list[Any] = field(default_factory=list)  # extract.ChunkResult of every chunk, in file and chunk order
    dedup: list[Any] = field(default_factory=list)  # report.DedupOutcome per table: what probabilistic dedup did
    active: Any = None  # the open, locked OUT/.staging/<run_id>/.active while the run lives
    notes: list[str] = field(default_factory=list)  # what the run could not check, for the summary
    debug_kept: bool = False  # --debug: the stage outputs are kept (once)
    delta_unchanged: dict[str, int] = field(default_factory=dict)  # a delta run: unchanged rows per table
    progress: Any = None  # ikou/progress.Progress: phases within a phase (resolve's dedup) say so

    @property
    def mapping(self) -> Mapping:
        return self.plan.mapping

    @property
    def files(self) -> tuple[InputFile, ...]:
        return self.plan.files

    @property
    def run_id(self) -> str:
        return self.plan.run_id

    @property
    def decisions(self) -> pl.DataFrame:
        return self.plan.decisions

    @property
    def reference_keys(self) -> dict[tuple[str, int], pl.DataFrame | None]:
        return self.plan.reference_keys



LAYOUTS = "layouts"  # OUT/layouts/<layout>-<sha256>.yaml: each layout a run landed with, as it was


def layout_file(layout) -> str:
    return f"{LAYOUTS}/{layout.id}-{layout.sha256[:16]}.yaml"

WHERE_WORK = {"_rid": pl.Int64, "_file": pl.Int32, "_line": pl.Int64, "_offset": pl.Int64}

ALERT_WORK = {**WHERE_WORK, "item": pl.String, "code": pl.String, "level": pl.String, "value": pl.String}

CHANGE_WORK = outputs.columns("cleansing_changes", with_record_id=True)  # the workers write it as landed

REJECT_X_WORK = {**REJECT_SCHEMA, "_file": pl.Int32, "_rid": pl.Int64}

REJECT_FIELDS = ["_rid", "_file", "_line", "_offset", "_length", "_raw", "code", "item", "value", "message",
                 "reasons"]


def rows_schema(table: Table) -> dict:
    return {"_rid": pl.Int64, "_file": pl.Int32, **{m: pl.Int64 for m in META[1:]}, "_raw": pl.Binary,
            **table.schema(), EXTRAS: EXTRAS_DTYPE, CLEARED: pl.String,
            "_reject_code": pl.String, "_reject_item": pl.String, "_reject_value": pl.String, "_reasons": pl.String,
            SCOPE_RULE: pl.String}


def layout_tables(run: RunState) -> dict[str, Table]:
    return {f.source.table: run.mapping.layout.table(f.source.table) for f in run.files}


def where_label(run: RunState) -> pl.Expr:
    """A record's place for messages: 'line N', or 'path:N' when the run reads several files."""
    if len(run.files) == 1:
        return fmt("line {}", pl.col("_line"))
    paths = {f.index: f.display for f in run.files}
    return fmt("{}:{}", pl.col("_file").replace_strict(paths, return_dtype=pl.String), pl.col("_line"))


def work_files(run: RunState, kind: str) -> list[Path]:
    """The staged files of a kind, in record order (named f<file>-c<chunk>)."""
    folder = run.work / "work" / kind
    return sorted(folder.glob("*.parquet")) if folder.exists() else []


def scan_work(run: RunState, kind: str, schema: dict, files: list[Path] | None = None) -> pl.LazyFrame:
    """The staged files of a kind (or ``files`` of them), in the given schema: a file lacking a
    column (staged rows carry only the items their file feeds) reads it as nulls."""
    files = work_files(run, kind) if files is None else files
    return (pl.scan_parquet(files, schema=schema, missing_columns="insert") if files
            else pl.LazyFrame(schema=schema))


def rid_expr() -> pl.Expr:
    return ((pl.col("_file").cast(pl.Int64) * (1 << RID_SHIFT)) + pl.col("_line")).alias("_rid")


def write_work(run: RunState, kind: str, part: str, frame: pl.DataFrame) -> None:
    folder = run.work / "work" / kind if not kind.startswith("debug/") else run.work / kind
    folder.mkdir(parents=True, exist_ok=True)
    # uncompressed: written once, read once or twice, deleted at the end of the run; snappy cost
    # ~3 CPU-s of 35 on 1M residents for 1.3x less staging disk (peak 405 -> 525 MB)
    frame.write_parquet(folder / part, compression="uncompressed", statistics=False)


def stamp(run: RunState) -> list[pl.Expr]:
    paths = {f.index: f.display for f in run.files}
    return [pl.lit(run.run_id).alias("run_id"), pl.lit(run.mapping.municipality_code).alias("municipality_code"),
            pl.col("_file").replace_strict(paths, return_dtype=pl.String).alias("source_file"),
            pl.col("_line").alias("source_line")]


def source_name(run: RunState) -> pl.Expr:
    """The mapping source that read the record: two sources may read one file (a copybook's record
    views, other_codes), and a reject says which of them refused it."""
    names = {f.index: f.source.name for f in run.files}
    return pl.col("_file").replace_strict(names, return_dtype=pl.String).alias("source")

NOT_LANDED = "work/not_landed.parquet"  # _rid of every record that is rejected or merged


MANIFEST = "work/manifest.json"


def _file_sha256(path: Path | None) -> str | None:
    if path is None or not Path(path).exists():
        return None
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def config_hashes(m: Mapping) -> dict:
    """sha256 of everything besides the export that decides what a run lands: the mapping, the
    layout, the 外字 table, the reviewers' decisions and the lookup tables."""
    return {"mapping": m.sha256, "layout": m.layout.sha256,
            "gaiji_table": _file_sha256(Path(m.gaiji.path)) if m.gaiji else None,
            "decisions": _file_sha256(m.dedup.decisions),
            "lookups": {name: t.sha256 for name, t in sorted(m.lookups.items())}}


def write_manifest(run: RunState, state: str = "extracted") -> None:
    """The staged package's manifest (as dlt's load packages): what was staged from which input,
    with what configuration, and how far the run got. Written whole to a temporary name and
    renamed, so a reader (or a rerun after a kill) never sees half of it."""
    m = run.mapping
    files = []
    for f in run.files:
        chunks = [{"part": c.part, "rows": c.rows, "rejected_whole": c.rejected_whole}
                  for c in run.chunks if c.file_index == f.index]
        files.append({"index": f.index, "path": f.display, "sha256": f.extractor.stats.sha256,
                      "source_records": f.extractor.stats.records,
                      "staged_records": sum(c["rows"] + c["rejected_whole"] for c in chunks), "chunks": chunks})
    manifest = {
        "run_id": run.run_id, "state": state, "tool_version": __version__,
        "municipality_code": m.municipality_code, "layout": m.layout.id,
        "hashes": config_hashes(m), "files": files,
    }
    path = run.work / MANIFEST
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def staged_record_problems(run: RunState) -> list[str]:
    """Each file's records, counted by its extractor, must all be in the staged package (as rows
    or as records rejected whole): the hand-off from extract to the later phases loses nothing."""
    problems = []
    for f in run.files:
        staged = sum(c.rows + c.rejected_whole for c in run.chunks if c.file_index == f.index)
        if staged != f.extractor.stats.records:
            problems.append(tr("{display}: the extractor counted {records} records but {staged} were staged",
                               display=f.display, records=f.extractor.stats.records, staged=staged))
    return problems


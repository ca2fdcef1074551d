"""Phase 1, ``check``: load nothing yet, decide everything. Find the files, read every header,
resolve every item's feed and every column's fate, read the keys layout references point at;
every file-level problem is collected and reported at once, before anything is written."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import polars as pl

from ikou.errors import IkouError
from ikou.extract import open_extractor
from ikou.i18n import tr
from ikou.mapping import Mapping
from ikou.paths import is_allowed
from ikou.pipeline import landing
from ikou.pipeline.delta import resolve_base
from ikou.pipeline.feeds import resolve_feeds
from ikou.pipeline.stages import Context
from ikou.pipeline.state import InputFile, Plan, RunOptions


def plan(opts: RunOptions, started: dt.datetime) -> Plan:
    """Phase 1: the mapping and layout loaded, the referenced keys read, the files found and
    every header read; raises one IkouError with every problem found, before anything is written."""
    from ikou.cleansing.review_decisions import load_decisions
    from ikou.mapping import load_mapping

    mapping = load_mapping(opts.mapping, group_code_tables=opts.code_tables)
    references = reference_keys(mapping, opts.out)
    base = resolve_base(mapping, opts.out, opts.delta_from)
    files = find_source_files(mapping, opts.input_dir, opts.chunk_bytes)
    check_headers(mapping, files)
    decisions = load_decisions(mapping.dedup.decisions) if mapping.dedup.probabilistic else pl.DataFrame()
    return Plan(mapping, tuple(files), make_run_id(started, mapping, files), started, decisions, references, base)


def reference_keys(mapping: Mapping, out: Path | None) -> dict[tuple[str, int], pl.DataFrame | None]:
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
                problems.append(tr("{table}: {values} must name {layout}.{table2} records of municipality "
                                   "{municipality_code}, but {out} holds no ikou.duckdb yet",
                                   table=table, values='+'.join(ref.items), layout=ref.layout, table2=ref.table,
                                   municipality_code=mapping.municipality_code, out=out))
            continue
        # under OUT's lock: another member of a group run may be landing right now
        with landing.locked(out):
            con = connect(db, read_only=True)
            try:
                present = {r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()}
                n = (con.execute(f'select count(*) from "{ref.table}" where municipality_code = ?',
                                 [mapping.municipality_code]).fetchall()[0][0] if ref.table in present else 0)
                if n == 0:
                    problems.append(tr("{table}: {values} must name {layout}.{table2} records of municipality "
                                       "{municipality_code}, and {out} holds none",
                                       table=table, values='+'.join(ref.items), layout=ref.layout, table2=ref.table,
                                       municipality_code=mapping.municipality_code, out=out))
                    continue
                cols = ", ".join(f'cast("{c}" as varchar) as "{i}"' for c, i in zip(ref.to, ref.items))
                keys[(table, j)] = con.sql(f'select distinct {cols} from "{ref.table}" where municipality_code = ?',
                                           params=[mapping.municipality_code]).pl()
            finally:
                con.close()
    if problems:
        raise IkouError(tr("referenced data is missing; nothing was written"), problems=problems,
                        hint=tr("migrate the referenced layout (e.g. resident) for this municipality into the "
                                "same --out first; a group run (ikou migrate-group) orders each member's "
                                "mappings so"))
    return keys


def find_source_files(mapping: Mapping, input_dir: Path, chunk_bytes: int) -> list[InputFile]:
    if not input_dir.is_dir():
        raise IkouError(tr("input folder {input_dir} does not exist or is not a folder", input_dir=input_dir))
    problems, files = [], []
    for source in mapping.sources:
        matches = sorted(p for p in input_dir.glob(source.files) if p.is_file())
        if not matches:
            problems.append(tr("source {name}: no file in {input_dir} matches {files!r}",
                               name=source.name, input_dir=input_dir, files=source.files))
        for path in matches:
            display = path.relative_to(input_dir).as_posix()
            if not is_allowed(path, input_dir):
                problems.append(tr("source {name}: {display} is a link to {resolve}, outside --input "
                                   "{input_dir}: refused (copy the file in, or allow its folder with "
                                   "--allow-path)",
                                   name=source.name, display=display, resolve=path.resolve(), input_dir=input_dir))
                continue
            extractor = open_extractor(path, display, source, chunk_bytes)
            files.append(InputFile(len(files), source, path, display, extractor))
    if problems:
        raise IkouError(tr("input files are missing; nothing was written"), problems=problems,
                        hint=tr("check --input and the 'files' glob of each source in the mapping"))
    return files


def check_headers(mapping: Mapping, files: list[InputFile]) -> None:
    """Read every header and resolve every item's feed; report all problems at once."""
    problems: list[str] = []
    hints: set[str] = set()
    missing: list[str] = []
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
                              structural, problems, missing)
        f.context = Context(mapping, f.source, table, feeds)
        if feeds.unaccounted:
            samples = _samples(f, feeds.unaccounted)
            problems += [tr("{display}: column {column!r} is neither mapped nor listed under unmapped_columns "
                            "(values such as {values})", display=f.display, column=c, values=", ".join(samples[c]))
                         if samples.get(c) else
                         tr("{display}: column {column!r} is neither mapped nor listed under unmapped_columns "
                            "(empty in the first records)", display=f.display, column=c)
                         for c in feeds.unaccounted]
            hints.add(tr("map each such column to an item, or list it under the source's unmapped_columns with its "
                      "fate: {drop: <why>} or keep (its text lands in the row's extras): a column is never dropped "
                      "without a word"))
    if problems:
        if missing:
            hints.add(tr("compare the header line of the file with the 'column' names in the mapping "
                         "(and skip_rows: the number of metadata rows before the header)"))
        raise IkouError(tr("the export does not match the mapping ({count} problem(s)); nothing was written",
                           count=len(problems)),
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


def make_run_id(started: dt.datetime, mapping: Mapping, files: list[InputFile]) -> str:
    h = hashlib.sha256(mapping.sha256.encode())
    # the layout and the tables beside the mapping are part of what the run does
    h.update(mapping.layout.sha256.encode())
    for table in mapping.lookups.values():
        h.update(table.sha256.encode())
    if mapping.gaiji is not None:
        h.update(Path(mapping.gaiji.path).read_bytes())
    if mapping.dedup.decisions is not None and mapping.dedup.decisions.is_file():
        h.update(mapping.dedup.decisions.read_bytes())  # new decisions: another run, not a repeat
    for f in files:
        st = f.path.stat()
        h.update(f"{f.display}:{st.st_size}:{st.st_mtime_ns}".encode())
    return f"{started:%Y%m%dT%H%M%S%fZ}-{mapping.municipality_code}-{h.hexdigest()[:8]}"

"""`ikou export OUT --to DIR`: the hand-over files (投入データ) the receiving system loads.

Per municipality and table of OUT's latest committed runs, one file in the standard layout:
CSV with the standard Japanese item names as its header (every item of the layout, in the
layout's order; an item the export did not provide is an empty column), UTF-8 (optionally with a
BOM) or CP932, CRLF line ends, records in the order of the table's row key; or fixed-width bytes
from a record layout file (``record_layout``). Values as text: dates ISO 8601 (1985-02-14),
numbers in digits.

A character the target encoding cannot hold (an IVS, a character outside JIS X 0208/CP932) is
never replaced silently: the export stops, naming the file, record, item and character, before
anything is written — unless it is told ``unmappable="degenerate"``: then the character is
written as its 縮退 form (a variation selector dropped, a variant folded to a CP932 character by
ikou's 縮退 table) and every such replacement is listed in the manifest. A character without a
縮退 form still stops the export.

Beside the files: ``manifest.json`` (``manifest.Manifest``) and, per municipality and layout, a
re-import mapping (``mapping_<code>_<layout>.yaml``) that reads the CSV files back through
`ikou migrate` (a round trip, and the way to diff a rehearsal's hand-over). The folder is written
in a staging folder beside it and swapped in at the end: DIR holds the old hand-over or the new
one, never half of one. The same OUT exported twice gives byte-identical files."""

from __future__ import annotations

import csv
import io
import os
import shutil
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import duckdb
import yaml

from ikou import __version__
from ikou.db import connect, quote_ident, quote_literal
from ikou.errors import IkouError
from ikou.handover.files import file_totals, sha256_of
from ikou.handover.manifest import MANIFEST, Degenerated, HandoverFile, Manifest, layout_file_name
from ikou.handover.record_layout import RecordLayout, declared_table, fixed_record, load_record_layout
from ikou.i18n import tr
from ikou.layout import Layout, Table
from ikou.reconciliation.model import latest_runs, reading, run_layout
from ikou.report import RunSummary

ENCODINGS = ("utf-8", "utf-8-sig", "cp932")
BATCH = 20_000
SHOWN = 50  # problems listed in the message (all are counted)


@dataclass(frozen=True)
class ExportOptions:
    encoding: str = "utf-8"
    unmappable: str = "stop"  # stop | degenerate
    record_layouts: tuple[Path, ...] = ()  # fixed-width instead of CSV for these tables
    municipality: str | None = None
    delta: bool = False  # a delta run's changes (差分) instead of the whole tables


@cache
def degenerate_table() -> dict[str, str]:
    """character -> its 縮退 form in CP932: ikou's own CP932 differences (data/cp932_degenerate.tsv:
    U+2212 − -> U+FF0D －, …) first, then the variant folds of the match keys (JIS縮退マップ)."""
    from ikou.cleansing.match_keys import variant_folds

    text = (resources.files("ikou.handover") / "data" / "cp932_degenerate.tsv").read_text(encoding="utf-8")
    own = {chr(int(a, 16)): chr(int(b, 16)) for a, b, *_ in (line.split("\t") for line in text.splitlines()
                                                             if line and not line.startswith("#"))}
    return {**variant_folds(), **own}


def _writable(text: str, encoding: str) -> bool:
    """Whether ``text`` is written and read back unchanged: Python's cp932 writes U+2212 as the
    bytes of U+FF0D, which read back as U+FF0D, a change nobody would see."""
    try:
        return text.encode(encoding).decode(encoding) == text
    except UnicodeEncodeError:
        return False


def _degenerate(value: str, encoding: str) -> tuple[str, list[tuple[str, str]], list[str]]:
    """(the value as written, [(original, written)], [characters without a 縮退 form])."""
    out, changes, missing = [], [], []
    folds = degenerate_table()
    for ch in value:
        if _writable(ch, encoding):
            out.append(ch)
        elif 0xFE00 <= ord(ch) <= 0xFE0F or 0xE0100 <= ord(ch) <= 0xE01EF:  # a variation selector: dropped
            changes.append((ch, ""))
        elif ch in folds and _writable(folds[ch], encoding):
            out.append(folds[ch])
            changes.append((ch, folds[ch]))
        else:
            out.append(ch)
            missing.append(ch)
    return "".join(out), changes, missing


def codepoint(ch: str) -> str:
    return f"U+{ord(ch):04X} {ch}" if ch else "(nothing)"


def export_handover(out: Path, to: Path, options: ExportOptions) -> Manifest:
    if options.encoding not in ENCODINGS:
        raise IkouError(tr("--encoding {encoding}: one of {values}",
                           encoding=options.encoding, values=', '.join(ENCODINGS)))
    if to.exists() and not to.is_dir():
        raise IkouError(tr("--to {to} is a file", to=to), hint=tr("give a folder (it is created)"))
    if to.is_dir() and any(to.iterdir()) and not (to / MANIFEST).is_file():
        raise IkouError(tr("--to {to} holds other files", to=to), hint=tr("give an empty folder, or an earlier hand-over "
                                                                "to replace"))
    if to.resolve() == out.resolve() or out.resolve() in to.resolve().parents:
        raise IkouError(tr("--to {to} is inside OUT", to=to), hint=tr("write the hand-over beside OUT, not into it"))
    staging = to.parent / f".{to.name}.staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        manifest = _write_all(out, staging, options)
        (staging / MANIFEST).write_text(manifest.to_json(), encoding="utf-8", newline="\n")
        _swap_in(staging, to)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest


def _swap_in(staging: Path, to: Path) -> None:
    """The one commit point: the old folder aside, the new one in, the old one gone."""
    old = to.parent / f".{to.name}.old-{os.getpid()}"
    if to.exists():
        to.rename(old)
    staging.rename(to)
    shutil.rmtree(old, ignore_errors=True)


def _write_all(out: Path, staging: Path, options: ExportOptions) -> Manifest:
    files: list[HandoverFile] = []
    degenerated: list[Degenerated] = []
    problems: list[str] = []
    fixed_paths = list(options.record_layouts)
    with reading(out) as con:
        runs = [r for r in latest_runs(con) if options.municipality in (None, r["municipality_code"])]
        if not runs:
            raise IkouError(tr("{out} holds no committed run of municipality {code}", out=out, code=options.municipality)
                            if options.municipality else tr("{out} holds no committed run", out=out),
                            hint=tr("run `ikou migrate` first; `ikou report OUT` lists what OUT holds"))
        present = {r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()}
        used_layouts: set[str] = set()
        for run in runs:
            summary = RunSummary.from_json(run["summary"]) if run["summary"] else None
            layout = run_layout(out, run, summary)
            if layout is None:
                raise IkouError(tr("the layout of run {run_id} ({layout}) cannot be read",
                                   run_id=run['run_id'], layout=run['layout']),
                                hint=tr("OUT/layouts/ keeps each layout a run landed with; restore it"))
            record_layouts = {}
            for p in fixed_paths:
                table_id = declared_table(p)
                if table_id in layout.tables:
                    record_layouts[table_id] = load_record_layout(p, layout.tables[table_id])
                    used_layouts.add(str(p))
            code = run["municipality_code"]
            written = []
            parts = _delta_parts(run, summary) if options.delta else [None]
            changed = {t.table for t in summary.delta.tables} if options.delta else set()
            for table in layout.tables.values():
                if table.id not in present or (options.delta and table.id not in changed):
                    continue
                for part in parts:
                    f, d, p = _write_table(con, staging, layout, table, run, options, record_layouts.get(table.id),
                                           part)
                    if f is not None:
                        written.append(f)
                    degenerated += d
                    problems += p
            files += written
            if written:
                (staging / layout_file_name(layout.id, layout.sha256)).write_text(layout.text, encoding="utf-8",
                                                                                   newline="")
            csv_files = [f for f in written if f.format == "csv"]
            if csv_files and not problems and not options.delta:  # a delta's files are not a whole table
                name = summary.municipality_name if summary else ""
                (staging / f"mapping_{code}_{layout.id}.yaml").write_text(
                    reimport_mapping(layout, code, name, csv_files, date_reading(run)), encoding="utf-8", newline="\n")
        unused = [str(p) for p in fixed_paths if str(p) not in used_layouts]
        if unused:
            raise IkouError(tr("record layout {values} names no table this OUT holds", values=', '.join(unused)))
    if problems:
        shown = problems[:SHOWN] + ([f"… and {len(problems) - SHOWN} more"] if len(problems) > SHOWN else [])
        raise IkouError(tr("the hand-over was not written: {count} value(s) cannot be written as they are "
                           "(file, record, key, item: what)",
                           count=len(problems)), problems=shown,
                        hint=tr("write UTF-8 (--encoding utf-8), or let the export write 縮退 forms and list them "
                                "in the manifest (--unmappable degenerate); a value longer than its fixed-width "
                                "field needs a wider field in the record layout"))
    notes = (DELTA_NOTE,) if options.delta else ()
    return Manifest(tool_version=__version__, files=tuple(sorted(files, key=lambda f: f.path)),
                    degenerated=tuple(degenerated), notes=notes)


DELTA_KINDS = {"insert": "inserted", "update": "changed", "delete": "deleted"}  # file part -> delta change
DELTA_NOTE = ("delta hand-over (差分): per table, apply *_delta_delete (the keys of the rows to remove), then "
              "*_delta_update (whole records replacing the rows of the same key), then *_delta_insert (new rows)")


def _delta_parts(run: dict, summary: RunSummary | None) -> list[tuple[str, str]]:
    """(file part, base run id) of a delta run's files; a run that is not a delta stops the export."""
    if summary is None or summary.delta is None:
        raise IkouError(tr("run {run_id} of municipality {municipality_code} ({layout}) is not a delta run: "
                           "--delta has no changes to write",
                           run_id=run['run_id'], municipality_code=run['municipality_code'], layout=run['layout']),
                        hint=tr("migrate with `ikou migrate … --delta-from RUN` first, or export without --delta"))
    return [(kind, summary.delta.previous_run_id) for kind in DELTA_KINDS]


def _rows_of(table: Table, items: list[str], dates: list[tuple[int, str]], part: tuple[str, str] | None) -> str:
    """The rows a file is written from: the table's (of one municipality), or a delta's part of them
    (a deleted row is gone from the table: its key items come from the delta table, the rest empty)."""
    from ikou.pipeline.delta import key_expr

    if part is None:
        return f"{quote_ident(table.id)} where municipality_code = ?"
    change = DELTA_KINDS[part[0]]
    picked = (f"select target_key from delta where run_id = ? and target_table = {quote_literal(table.id)} "
              f"and change = '{change}'")
    if change != "deleted":
        return f"{quote_ident(table.id)} t where municipality_code = ? and {key_expr(table, 't')} in ({picked})"
    keys = set(table.row_key)
    def value(i: str) -> str:
        if i in keys:
            return f"json_extract_string(key_values, {quote_literal('$.' + i)})"
        return "municipality_code" if i == "municipality_code" else "cast(null as varchar)"
    cols = [f"{value(i)} as {quote_ident(i)}" for i in items]
    cols += [f"cast(null as varchar) as {quote_ident(i + suffix)}" for _, i in dates for suffix in ("_status", "_text")]
    return (f"(select {', '.join(cols)} from delta where run_id = ? and target_table = {quote_literal(table.id)} "
            f"and change = 'deleted') d")



def _write_table(con: duckdb.DuckDBPyConnection, staging: Path, layout: Layout, table: Table, run: dict,
                 options: ExportOptions, fixed: RecordLayout | None, part: tuple[str, str] | None = None):
    """One file: the table's rows of the run's municipality, or (``part``: (insert | update |
    delete, base run id)) a delta run's part of them, written even when empty."""
    code = run["municipality_code"]
    if part is None and not con.execute(f"select count(*) from {quote_ident(table.id)} where municipality_code = ?",
                                        [code]).fetchall()[0][0]:
        return None, [], []
    items = [s.item for s in fixed.slots] if fixed else [it.id for it in table.items]
    header = tuple(items) if fixed else tuple(table.item(i).name_ja for i in items)
    order = ", ".join(quote_ident(k) for k in (table.row_key or table.duplicate_keys[0]))
    dates = [(k, i) for k, i in enumerate(items) if table.item(i).is_date]
    # a date item's status and text ride along: an impossible date (no such day) is written as the
    # day the register holds (2019-02-29), which the standard requires a receiver to accept
    select = ", ".join([f"cast({quote_ident(i)} as varchar)" for i in items]
                       + [f"{quote_ident(i + '_status')}, {quote_ident(i + '_text')}" for _, i in dates])
    reading = date_reading(run)
    params = [code] if part is None else [run["run_id"]] if part[0] == "delete" else [code, run["run_id"]]
    cursor = con.execute(f"select {select} from {_rows_of(table, items, dates, part)} order by {order}", params)
    encoding = fixed.encoding if fixed else options.encoding
    codec = "utf-8" if encoding == "utf-8-sig" else encoding  # the BOM is written once, by hand
    name = f"{code}_{table.id}{f'_delta_{part[0]}' if part else ''}.{'dat' if fixed else 'csv'}"
    path = staging / name
    key_at = [items.index(k) for k in table.row_key if k in items]
    degenerated, problems, record = [], [], 0
    with open(path, "wb") as fh:
        if not fixed:
            fh.write(_csv_text([header], encoding == "utf-8-sig").encode(codec))
        while batch := cursor.fetchmany(BATCH):
            rows = [list(r) for r in batch]
            problems += _impossible_dates(rows, items, dates, table, reading, name, record, key_at)
            rows = [r[:len(items)] for r in rows]
            for j, row in enumerate(rows):
                for k, value in enumerate(row):
                    if value is None or value.isascii() or _writable(value, codec):
                        continue
                    where = f"{name} record {record + j + 1} ({_key(table, items, row, key_at)}), {items[k]}"
                    fixed_value, changes, missing = _degenerate(value, codec)
                    if missing or options.unmappable != "degenerate":
                        bad = missing or [c for c, _ in changes]
                        problems.append(tr("{where}: {values}",
                                           where=where, values=', '.join((codepoint(c) for c in dict.fromkeys(bad)))))
                        continue
                    row[k] = fixed_value
                    degenerated += [Degenerated(name, record + j + 1, _key(table, items, row, key_at), items[k],
                                                codepoint(a), codepoint(b)) for a, b in changes]
            record += len(rows)
            if problems:
                continue  # keep looking, write nothing more
            if fixed:
                for j, row in enumerate(rows):
                    data, too_long = fixed_record(fixed, dict(zip(items, row)))
                    problems += [f"{name} record {record - len(rows) + j + 1} "
                                 f"({_key(table, items, row, key_at)}), {i}: {why}" for i, why in too_long]
                    fh.write(data)
            else:
                fh.write(_csv_text(rows, False).encode(codec))
    if problems:  # the export stops: no totals for a file that will not be handed over
        return None, degenerated, problems
    size, digest = sha256_of(path)
    reader = connect()
    try:
        records, found, hashes, sums = file_totals(reader, path, "fixed" if fixed else "csv", encoding, table,
                                                   tuple(items), fixed.source if fixed else None)
    finally:
        reader.close()
    if records != record or found != header:  # the file must read back as written
        raise IkouError(tr("{name}: read back {records} records of {record} written, or other columns",
                           name=name, records=records, record=record),
                        hint=tr("report this as a bug"))
    return HandoverFile(path=name, layout=layout.id, layout_version=layout.version, layout_sha256=layout.sha256,
                        table=table.id, table_ja=table.name_ja, municipality_code=code, run_id=run["run_id"],
                        format="fixed" if fixed else "csv", encoding=encoding, bytes=size, sha256=digest,
                        records=records, columns=header, items=tuple(items),
                        record_length=fixed.record_length if fixed else None,
                        record_layout=fixed.source if fixed else None, hash_totals=hashes, money_sums=sums,
                        delta=part[0] if part else None, delta_from=part[1] if part else None,
                        ), degenerated, problems


@dataclass(frozen=True)
class DateReading:
    """How a run read its dates, from the run's mapping (the defaults when it can no longer be
    read): the forms per item, the mapping's forms and its era codes."""
    per_item: dict
    forms: tuple[str, ...]
    era_codes: str

    @property
    def eras(self) -> dict[int, str]:
        from ikou.mapping import ERA_CONVENTIONS
        return ERA_CONVENTIONS[self.era_codes]


def date_reading(run: dict) -> DateReading:
    from ikou.mapping import DEFAULT_DATE_FORMS, load_mapping
    try:
        mapping = load_mapping(run["mapping_path"])
    except (IkouError, OSError, TypeError):
        return DateReading({}, tuple(DEFAULT_DATE_FORMS), "1-5")
    per_item = {m.item: m.date_forms for src in mapping.sources for m in src.items if m.date_forms}
    return DateReading(per_item, tuple(mapping.date_forms), mapping.era_codes)


def _impossible_dates(rows: list[list], items: list[str], dates: list[tuple[int, str]], table: Table,
                      reading: DateReading, name: str, first: int, key_at: list[int]) -> list[str]:
    """Write each impossible date of ``rows`` as the day its text names (in place); the problems
    where no day can be read from the text."""
    from ikou.cleansing.dates import calendar_digits

    problems = []
    for j, (k, item) in enumerate(dates):
        at = len(items) + 2 * j
        todo = [r for r in rows if r[at] == "impossible"]
        if not todo:
            continue
        forms = reading.per_item.get(item, reading.forms)
        for r, digits in zip(todo, calendar_digits([r[at + 1] for r in todo], forms, reading.eras)):
            if digits is None:
                problems.append(tr("{name} record {value} ({key_table}), {item}: the impossible date {value2!r} "
                                   "cannot be read again",
                                   name=name, value=first + rows.index(r) + 1,
                                   key_table=_key(table, items, r, key_at), item=item, value2=r[at + 1]))
            r[k] = digits
    return problems


def _key(table: Table, items: list[str], row: list, key_at: list[int]) -> str:
    return ";".join(f"{items[i]}={row[i]}" for i in key_at if row[i] not in (None, ""))


def _csv_text(rows, bom: bool) -> str:
    buf = io.StringIO(newline="")
    if bom:
        buf.write("\ufeff")
    csv.writer(buf, lineterminator="\r\n").writerows(["" if v is None else v for v in r] for r in rows)
    return buf.getvalue()


def _reimport_items(table: Table, f: HandoverFile, date_forms: dict) -> dict:
    """item -> its column; a date with a 不詳表記 item reads both (an unknown date's column is
    empty and its text is in 不詳表記), and its 不詳フラグ and 不詳表記 follow from the date again."""
    column = dict(zip(f.items, f.columns))
    derived = {it.unknown_flag for it in table.items if it.is_date and it.unknown_flag}
    out = {}
    for item, col in column.items():
        it = table.item(item)
        if item in derived:
            continue
        if it.is_date and it.unknown_text in column:
            out[item] = {"concat": [col, column[it.unknown_text]], "separator": ""}
        else:
            out[item] = col
        if it.is_date and item in date_forms:
            out[item] = {**(out[item] if isinstance(out[item], dict) else {"column": col}),
                         "date_forms": date_forms[item]}
    return out


def _derived_columns(table: Table, f: HandoverFile) -> dict:
    column = dict(zip(f.items, f.columns))
    flags = [column[it.unknown_flag] for it in table.items if it.is_date and it.unknown_flag in column]
    why = "the 不詳フラグ follows from the date and its 不詳表記"
    return {"unmapped_columns": {c: {"drop": why} for c in flags}} if flags else {}


def reimport_mapping(layout: Layout, code: str, name: str, files: list[HandoverFile], reading: DateReading) -> str:
    """A mapping that reads these CSV files back into the standard layout (`ikou migrate`): dates
    in ISO, and an unknown date's 不詳表記 in the forms and era codes the run read it in."""
    def with_iso(forms):
        return ["iso", *[f for f in forms if f != "iso"]]
    mapping = {
        "municipality": {"code": code, "name": name or code},
        "layout": layout.id,
        "vendor": "ikou hand-over",
        "dates": {"era_codes": reading.era_codes, "forms": with_iso(reading.forms)},
        "sources": [{"name": f.table, "table": f.table, "files": f.path, "format": "csv", "encoding": f.encoding,
                     "header": True, "items": _reimport_items(layout.tables[f.table], f,
                                                              {i: with_iso(v) for i, v in reading.per_item.items()}),
                     **_derived_columns(layout.tables[f.table], f)} for f in files],
    }
    head = (f"# Re-import mapping written by `ikou export` (ikou {__version__}): reads this folder's CSV\n"
            "# files back into the standard layout, e.g. to diff a rehearsal's hand-over with `ikou diff`.\n")
    return head + yaml.safe_dump(mapping, allow_unicode=True, sort_keys=False, width=200)

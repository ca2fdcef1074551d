"""The checks of a mapping's sources and code tables against its layout, and the runtime
objects they become (``ikou.mapping``). Every problem is appended to ``problems``: a mapping is
reported whole, never problem by problem."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from pathlib import Path

from ikou.config.base import did_you_mean, suggest
from ikou.config.mapping_file import KeepFile, MappingFile, SourceFile, SplitFile
from ikou.i18n import tr
from ikou.layout import Layout, Table
from ikou.mapping import (
    ENCODINGS,
    FIXED_ENCODINGS,
    CodeMap,
    ColumnFate,
    FixedLayout,
    ItemMap,
    LookupTable,
    Source,
    SplitSpec,
    XmlLayout,
    check_date_forms,
)
from ikou.mapping_fixed import fixed_layout
from ikou.paths import glob_problem, outside_problem


def build_code_tables(m: MappingFile, where: str, layout: Layout | None, problems: list[str]) -> dict[str, CodeMap]:
    out: dict[str, CodeMap] = {}
    for ct_id, ct in m.code_tables.items():
        at = f"{where}:code_tables.{ct_id}"
        if layout is not None:
            if ct.standard not in layout.code_tables:
                problems.append(tr("{at}.standard: {standard!r} is not a code table of layout "
                                   "{id}{did_you_mean_standard} ({values})",
                                   at=at, standard=ct.standard, id=layout.id,
                                   did_you_mean_standard=did_you_mean(ct.standard, layout.code_tables),
                                   values=', '.join(layout.code_tables)))
            else:
                std = layout.code_tables[ct.standard]
                for legacy, target in ct.codes.items():
                    if target in std.forbidden:
                        problems.append(tr("{at}: {legacy!r} maps to {target!r} ({value}), which the standard "
                                           "does not allow: {value2}",
                                           at=at, legacy=legacy, target=target, value=std.codes[target],
                                           value2=std.forbidden[target]))
                    elif target not in std.codes and std.enforced:
                        problems.append(tr("{at}: {legacy!r} maps to {target!r}, which is not a {standard} code "
                                           "({values})",
                                           at=at, legacy=legacy, target=target, standard=ct.standard,
                                           values=', '.join(std.allowed)))
        out[ct_id] = CodeMap(id=ct_id, standard=ct.standard, codes=dict(ct.codes), unmapped=ct.unmapped)
    return out


def build_sources(m: MappingFile, where: str, layout: Layout | None, code_tables: dict[str, CodeMap],
                  lookups: dict[str, LookupTable], problems: list[str]) -> list[Source]:
    sources = [_source(s, f"{where}:sources[{i}]({s.name})", layout, code_tables, lookups, problems)
               for i, s in enumerate(m.sources)]
    names = [s.name for s in sources]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        problems.append(tr("{where}:sources: name {dup!r} is used twice", where=where, dup=dup))
    return sources


def build_lookups(m: MappingFile, path: Path, problems: list[str]) -> dict[str, LookupTable]:
    """The reference tables (``lookups``), read now: a key listed twice with two values is a
    problem, not a choice."""
    out: dict[str, LookupTable] = {}
    for lk_id, lk in m.lookups.items():
        at = f"{path}:lookups.{lk_id}"
        file = path.parent / lk.file
        outside = outside_problem(file, path, f"lookups.{lk_id}.file")
        if outside:
            problems.append(outside)
            continue
        if not file.is_file():
            problems.append(tr("{at}.file: {file!r} is not a file (paths are relative to the mapping)",
                               at=at, file=lk.file))
            continue
        data = file.read_bytes()
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            problems.append(tr("{file}: not UTF-8 (byte offset {start}): save the table as UTF-8",
                               file=file, start=exc.start))
            continue
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter="\t" if file.suffix == ".tsv" else ","))
        header = [h.strip() for h in rows[0]] if rows else []
        missing = [c for c in (lk.key, lk.value) if c not in header]
        if missing:
            problems.append(tr("{file}: no column {values} in its header ({values2})",
                               file=file, values=', '.join(map(repr, missing)), values2=', '.join(header)))
            continue
        k, v = header.index(lk.key), header.index(lk.value)
        entries: dict[str, str] = {}
        for n, row in enumerate(rows[1:], start=2):
            if len(row) <= max(k, v) or not row[k].strip():
                continue
            key, value = row[k].strip(), row[v].strip()
            if entries.get(key, value) != value:
                problems.append(tr("{file}:{n}: {key} {key2!r} is listed with two values ({value!r}, "
                                   "{value2!r})",
                                   file=file, n=n, key=lk.key, key2=key, value=entries[key], value2=value))
            entries[key] = value
        out[lk_id] = LookupTable(id=lk_id, path=str(file), key=lk.key, value=lk.value, entries=entries,
                                 unmatched=lk.unmatched, sha256=hashlib.sha256(data).hexdigest())
    return out


def _source(s: SourceFile, where: str, layout: Layout | None, code_tables: dict[str, CodeMap],
            lookups: dict[str, LookupTable], problems: list[str]) -> Source:
    encoding = s.encoding.lower().replace("_", "-")
    allowed = FIXED_ENCODINGS if s.format == "fixed" else ENCODINGS
    if s.format == "xlsx":
        encoding = "utf-8"  # a workbook's text is Unicode already: no encoding to declare
    elif encoding in {"shift-jis", "sjis", "ms932", "windows-31j"}:
        problems.append(tr("{where}.encoding: write 'cp932' for {encoding!r}: municipal Shift_JIS exports are "
                           "CP932 in practice (DOMAIN.md §5)",
                           where=where, encoding=encoding))
    elif encoding not in allowed:
        problems.append(tr("{where}.encoding: {encoding!r} is not supported for {format}{did_you_mean_encoding} "
                           "({values})",
                           where=where, encoding=encoding, format=s.format,
                           did_you_mean_encoding=did_you_mean(encoding, allowed), values=', '.join(allowed)))
    for key, val in (("delimiter", s.delimiter), ("quote", s.quote)):
        if len(val) != 1 or ord(val) > 0x7F or val in "\r\n":
            problems.append(tr("{where}.{key}: {val!r} must be one ASCII character", where=where, key=key, val=val))
    table: Table | None = None
    if layout is not None:
        if s.table not in layout.tables:
            problems.append(tr("{where}.table: {table!r} is not a table of layout {id}{did_you_mean_table} "
                               "({values})",
                               where=where, table=s.table, id=layout.id,
                               did_you_mean_table=did_you_mean(s.table, layout.tables),
                               values=', '.join(layout.tables)))
        else:
            table = layout.tables[s.table]

    def column_ok(column: str | int, at: str) -> None:
        if isinstance(column, int) and column < 1:
            problems.append(tr("{at}: positions start at 1", at=at))
        if not s.header and isinstance(column, str):
            problems.append(tr("{at}: the file has no header, so name the column by position (1, 2, …)", at=at))

    items: list[ItemMap] = []
    for item_id, spec in s.items.items():
        iw = f"{where}.items.{item_id}"
        given = [k for k in ("column", "value", "concat") if getattr(spec, k) is not None]
        if len(given) > 1 or (not given and spec.default_from is None):
            problems.append(f"{iw}: give exactly one of 'column' (legacy column), 'value' (constant) or 'concat' "
                            "(columns joined)" + (", or default_from alone" if not given else ""))
        if (spec.concat is None) != (spec.separator is None):
            problems.append(tr("{iw}: concat needs separator (what goes between two parts, e.g. a full-width "
                               "space) and separator needs concat",
                               iw=iw))
        if spec.lookup is not None:
            if spec.column is None:
                problems.append(tr("{iw}.lookup: a lookup reads one column: give column (the key's column)", iw=iw))
            if spec.lookup not in lookups:
                problems.append(tr("{iw}.lookup: {lookup!r} is not defined under lookups{did_you_mean_lookup}",
                                   iw=iw, lookup=spec.lookup, did_you_mean_lookup=did_you_mean(spec.lookup, lookups)))
        for j, column in enumerate(((spec.column,) if spec.column is not None else ()) + tuple(spec.concat or ())):
            column_ok(column, f"{iw}.{'column' if spec.column is not None and j == 0 else 'concat'}")
        im = ItemMap(item=item_id, column=spec.column, value=None if spec.value is None else str(spec.value),
                     pad=spec.pad, code_table=spec.code_table,
                     date_forms=check_date_forms(spec.date_forms, f"{iw}.date_forms", problems),
                     concat=tuple(spec.concat or ()), separator=spec.separator, lookup=spec.lookup,
                     default_from=spec.default_from)
        if table is not None:
            _check_item_map(im, table, code_tables, iw, problems)
        items.append(im)
    splits = [_split(sp, f"{where}.split[{j}]", table, problems) for j, sp in enumerate(s.split)]
    for sp in splits:
        column_ok(sp.column, f"{where}.split.column")
    fed = [im.item for im in items] + [i for sp in splits for i in sp.items]
    for dup in sorted({i for i in fed if fed.count(i) > 1}):
        problems.append(tr("{where}: item {dup} is given twice (in items and/or split): one source per item",
                           where=where, dup=dup))
    for im in items:
        if im.default_from is not None and table is not None:
            if im.default_from not in table.item_ids:
                problems.append(tr("{where}.items.{item}.default_from: {unknown_item_default_from}",
                                   where=where, item=im.item,
                                   unknown_item_default_from=unknown_item(im.default_from, table)))
            elif im.default_from == im.item:
                problems.append(tr("{where}.items.{item}.default_from: an item cannot default to itself",
                                   where=where, item=im.item))
    chain = {im.item: im.default_from for im in items if im.default_from}
    for start in chain:
        seen, at = {start}, chain.get(start)
        while at in chain:
            if at in seen:
                problems.append(tr("{where}: default_from goes round in a circle through {start}",
                                   where=where, start=start))
                break
            seen.add(at)
            at = chain[at]
    not_provided = tuple(s.not_provided.items())
    for item_id, why in not_provided:
        at = f"{where}.not_provided.{item_id}"
        if table is not None and item_id not in table.item_ids:
            problems.append(tr("{at}: {unknown_item_item_id}",
                               at=at, unknown_item_item_id=unknown_item(item_id, table)))
        if item_id in fed:
            problems.append(tr("{at}: the item is mapped too: an item is either provided or not", at=at))
        if item_id == "municipality_code":
            problems.append(tr("{at}: every record carries its municipality (the landed partition key): give "
                               "value: \"<code>\" instead",
                               at=at))
        if not why.strip():
            problems.append(tr("{at}: say why the export does not have it (shown in the summary and report)", at=at))
    if table is not None:
        absent = set(fed) | {i for i, _ in not_provided}
        for it in table.items:
            if it.required and it.id not in absent:
                problems.append(tr("{where}.items: required item {id} ({name_ja}) is not mapped: map it, give a "
                                   "constant (value:), or list it under not_provided with the reason",
                                   where=where, id=it.id, name_ja=it.name_ja))
    fates = tuple(ColumnFate(column=c, fate="keep" if isinstance(f, KeepFile) else "drop",
                             reason=f.keep if isinstance(f, KeepFile) else f.drop)
                  for c, f in s.unmapped_columns.items())
    read = {str(c) for im in items for c in im.columns} | {str(sp.column) for sp in splits}
    for fate in fates:
        if fate.column in read:
            problems.append(tr("{where}.unmapped_columns.{column}: the column is read by an item: it is mapped",
                               where=where, column=fate.column))
    fixed = fixed_layout(s, where, encoding, problems) if s.format == "fixed" else None
    if fixed is not None and layout is not None:
        _float_items(fixed, items, layout.tables.get(s.table), where, problems)
    xml = _xml(s, where, problems) if s.format == "xml" else None
    if fixed is not None or xml is not None:
        names = {f.name for f in fixed.fields} if fixed is not None else set(xml.fields)
        named = [(f"items.{im.item}", c) for im in items for c in im.columns] + \
            [("split", sp.column) for sp in splits] + [(f"unmapped_columns.{f.column}", f.column) for f in fates]
        for at, column in named:
            if str(column) not in names:
                problems.append(tr("{where}.{at}: {column!r} is not one of the fields{did_you_mean} ({values})",
                                   where=where, at=at, column=column, did_you_mean=did_you_mean(str(column), names),
                                   values=', '.join(sorted(names))))
    elif s.fields:
        problems.append(tr("{where}.fields: only fixed-width and XML sources declare fields (a {format} "
                           "source's columns come from the file)",
                           where=where, format=s.format))
    if s.sheet is not None and s.format != "xlsx":
        problems.append(tr("{where}.sheet: only an xlsx source has sheets", where=where))
    bad_glob = glob_problem(s.files)
    if bad_glob:
        problems.append(tr("{where}.files: {bad_glob}", where=where, bad_glob=bad_glob))
    return Source(name=s.name, table=s.table, files=s.files, format=s.format, encoding=encoding,
                  skip_rows=s.skip_rows, header=s.header, skip_after_header=s.skip_after_header,
                  delimiter=s.delimiter, quote=s.quote, max_invalid_rate=s.max_invalid_rate,
                  max_record_lines=s.max_record_lines, max_record_bytes=s.max_record_bytes, items=tuple(items),
                  fixed=fixed, xml=xml, splits=tuple(splits), sheet=s.sheet, unmapped_columns=fates,
                  not_provided=not_provided)


def _split(sp: SplitFile, where: str, table: Table | None, problems: list[str]) -> SplitSpec:
    import polars as pl

    try:
        pl.select(pl.lit("").str.extract_groups(sp.pattern)).item()
        groups = re.findall(r"\(\?P<([A-Za-z_][A-Za-z0-9_]*)>", sp.pattern)
        runnable = True
    except pl.exceptions.PolarsError as exc:
        problems.append(tr("{where}.pattern: not a regular expression polars can run: {value}",
                           where=where, value=str(exc).splitlines()[0]))
        groups, runnable = [], False
    if not groups and runnable:
        problems.append(tr("{where}.pattern: name a group per item, e.g. (?P<address_town>…)", where=where))
    if table is not None:
        for g in groups:
            if g not in table.item_ids:
                problems.append(tr("{where}.pattern: group {g!r}: {unknown_item_g}",
                                   where=where, g=g, unknown_item_g=unknown_item(g, table)))
    return SplitSpec(column=sp.column, pattern=sp.pattern, items=tuple(groups), on_mismatch=sp.on_mismatch)


def unknown_item(item_id: str, table: Table) -> str:
    """'x' is not an item, with the closest id — or the id of the item whose Japanese name it is."""
    by_ja = {it.name_ja: it.id for it in table.items}
    if item_id in by_ja:
        return (f"{item_id!r} is the Japanese name of item {by_ja[item_id]!r}: items are named by their id "
                f"(ikou layouts show {table.id} lists them)")
    close = suggest(item_id, table.item_ids) or suggest(item_id, by_ja, cutoff=0.5)
    hint = "" if close is None else f" (did you mean {by_ja.get(close, close)!r}"  + (
        f", whose Japanese name is {close}?)" if close in by_ja else "?)")
    return f"{item_id!r} is not an item of table {table.id}{hint}"


def _check_item_map(im: ItemMap, table: Table, code_tables: dict[str, CodeMap], where: str,
                    problems: list[str]) -> None:
    try:
        item = table.item(im.item)
    except KeyError:
        problems.append(tr("{where}: {unknown_item_item}",
                           where=where, unknown_item_item=unknown_item(im.item, table)))
        return
    if im.code_table is not None:
        if item.code_table is None:
            problems.append(tr("{where}.code_table: item {id} ({name_ja}) has no standard code table",
                               where=where, id=item.id, name_ja=item.name_ja))
        elif im.code_table not in code_tables:
            problems.append(tr("{where}.code_table: {code_table!r} is not defined under "
                               "code_tables{did_you_mean_code_table}",
                               where=where, code_table=im.code_table,
                               did_you_mean_code_table=did_you_mean(im.code_table, code_tables)))
        elif code_tables[im.code_table].standard != item.code_table:
            problems.append(tr("{where}.code_table: {code_table!r} converts to {standard!r} but item {id} uses "
                               "standard code table {code_table2!r}",
                               where=where, code_table=im.code_table, standard=code_tables[im.code_table].standard,
                               id=item.id, code_table2=item.code_table))
    if im.date_forms is not None and not item.is_date:
        problems.append(tr("{where}.date_forms: item {id} is not a date", where=where, id=item.id))
    if im.pad is not None and item.is_date:
        problems.append(tr("{where}.pad: zero-padding applies to text/number items, not to a date", where=where))


def _float_items(fixed: FixedLayout, items: list[ItemMap], table: Table | None, where: str,
                 problems: list[str]) -> None:
    """A float (COMP-1 / COMP-2) is not exact: it may feed a float or text item, never money, an
    integer, a decimal or a date. A whole number (PIC 9(n): zoned, packed, binary) read into a
    text item loses its leading zeros (0000012345 is the number 12345) unless the item says its
    width with ``pad``: refused until it does, never changed without a word."""
    floats = {f.name for f in fixed.fields if f.type == "float"}
    wholes = {f.name: f for f in fixed.fields if f.type in ("zoned", "packed", "binary", "native_binary")
              and f.scale == 0}
    by_id = {it.id: it for it in table.items} if table is not None else {}
    for im in items:
        item = by_id.get(im.item)
        for column in im.columns:
            if str(column) in floats and item is not None and item.type not in ("float", "string"):
                problems.append(tr("{where}.items.{id}: field {column!r} is a float (COMP-1 / COMP-2) and item {id} "
                                   "is {type}: floats are not exact{money}; read the value from a zoned or packed "
                                   "field, or map it to a float item",
                                   where=where, id=im.item, column=column, type=item.type,
                                   money=tr(" (floats are not money)") if item.type == "money" else ""))
            number = wholes.get(str(column))
            if (number is not None and item is not None and item.type == "string" and im.pad is None
                    and len(im.columns) == 1):
                width = {"zoned": number.length - number.sign.endswith("_separate"),
                         "packed": 2 * number.length - 1}.get(number.type, "N")
                problems.append(tr("{where}.items.{id}: field {column!r} is a {type} number and item {id} is text: "
                                   "its leading zeros would be lost (0000012345 reads as 12345); give the item "
                                   "{{column: {column}, pad: {width}}} (its width in digits), or declare the field "
                                   "type: text", where=where, id=im.item, column=column, type=number.type,
                                   width=width))


def _xml(s: SourceFile, where: str, problems: list[str]) -> XmlLayout:
    if not s.record:
        problems.append(tr("{where}: missing required key 'record' (the element path of a record)", where=where))
    fields: dict[str, str] = {}
    for name, path in s.fields.items():
        if not isinstance(path, str):
            problems.append(tr("{where}.fields.{name}: an XML field is a path inside the record (e.g. 氏名/漢字 or "
                               "@id)",
                               where=where, name=name))
            continue
        fields[name] = path
    if not s.fields:
        problems.append(tr("{where}: missing required key 'fields' (each field's path inside a record)", where=where))
    for path in [s.record or "", *fields.values()]:
        for step in path.replace("@", "/").split("/"):
            if ":" in step and step.split(":", 1)[0] not in s.namespaces:
                problems.append(tr("{where}: prefix {value!r} in {path!r} is not under namespaces",
                                   where=where, value=step.split(':', 1)[0], path=path))
    for name, path in fields.items():
        if path.count("@") > 1 or ("@" in path and not path.split("/")[-1].startswith("@")):
            problems.append(tr("{where}.fields.{name}: {path!r}: an attribute (@name) may only end a path",
                               where=where, name=name, path=path))
    return XmlLayout(record=s.record or "", fields=fields, namespaces=dict(s.namespaces))


def apply_overrides(layout: Layout, overrides: dict, where: str, problems: list[str]) -> tuple[Layout, list[dict]]:
    """The layout with this mapping's check overrides applied (``checks:``), and each override
    as {table, item, check, from, to} for the summary and the report."""
    from dataclasses import replace

    applied: list[dict] = []
    tables = dict(layout.tables)
    for item_id, ov in overrides.items():
        at = f"{where}:checks.{item_id}"
        owners = [t for t in tables.values() if item_id in t.item_ids]
        if not owners:
            first = next(iter(tables.values()))
            problems.append(tr("{at}: {unknown_item_item_id}",
                               at=at, unknown_item_item_id=unknown_item(item_id, first)))
            continue
        for t in owners:
            it = t.item(item_id)
            checks = list(it.checks)
            change: dict = {}
            for kind in ("pattern", "range", "check_digit"):
                to = getattr(ov, kind)
                if to is None:
                    continue
                mine = [c for c in checks if c.kind == kind]
                if not mine:
                    problems.append(tr("{at}.{kind}: item {item_id} ({name_ja}) has no {kind} check in layout "
                                       "{id}",
                                       at=at, kind=kind, item_id=item_id, name_ja=it.name_ja, id=layout.id))
                for c in mine:
                    applied.append({"table": t.id, "item": item_id, "check": f"{kind} {c.arg}" if kind != "pattern"
                                    else "pattern", "from": c.level, "to": to})
                checks = [c for c in checks if c.kind != kind] if to == "off" else \
                    [replace(c, level=to) if c.kind == kind else c for c in checks]
            change["checks"] = tuple(checks)
            for key, level_key, default in (("length", "length_level", it.level), ("width", "width_level", "alert")):
                to = getattr(ov, key)
                if to is None:
                    continue
                if getattr(it, key) is None:
                    problems.append(tr("{at}.{key}: item {item_id} ({name_ja}) has no {key} in layout {id}",
                                       at=at, key=key, item_id=item_id, name_ja=it.name_ja, id=layout.id))
                    continue
                applied.append({"table": t.id, "item": item_id, "check": f"{key} {getattr(it, key)}",
                                "from": getattr(it, level_key) or default, "to": to})
                change |= {key: None} if to == "off" else {level_key: to}
            if ov.level is not None:
                applied.append({"table": t.id, "item": item_id, "check": "level", "from": it.level, "to": ov.level})
                change["level"] = ov.level
            items = tuple(replace(x, **change) if x.id == item_id else x for x in t.items)
            tables[t.id] = replace(t, items=items)
    return replace(layout, tables=tables), applied

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
from ikou.config.mapping_file import FieldFile, KeepFile, MappingFile, SourceFile, SplitFile
from ikou.layout import Layout, Table
from ikou.paths import glob_problem, outside_problem
from ikou.mapping import (ENCODINGS, FIXED_ENCODINGS, CodeMap, ColumnFate, FieldSpec, FixedLayout, ItemMap,
                          LookupTable, Source, SplitSpec, TrailerSpec, XmlLayout, check_date_forms)


def build_code_tables(m: MappingFile, where: str, layout: Layout | None, problems: list[str]) -> dict[str, CodeMap]:
    out: dict[str, CodeMap] = {}
    for ct_id, ct in m.code_tables.items():
        at = f"{where}:code_tables.{ct_id}"
        if layout is not None:
            if ct.standard not in layout.code_tables:
                problems.append(f"{at}.standard: {ct.standard!r} is not a code table of layout {layout.id}"
                                f"{did_you_mean(ct.standard, layout.code_tables)} ({', '.join(layout.code_tables)})")
            else:
                std = layout.code_tables[ct.standard]
                for legacy, target in ct.codes.items():
                    if target in std.forbidden:
                        problems.append(f"{at}: {legacy!r} maps to {target!r} ({std.codes[target]}), which the "
                                        f"standard does not allow: {std.forbidden[target]}")
                    elif target not in std.codes and std.enforced:
                        problems.append(f"{at}: {legacy!r} maps to {target!r}, which is not a {ct.standard} code "
                                        f"({', '.join(std.allowed)})")
        out[ct_id] = CodeMap(id=ct_id, standard=ct.standard, codes=dict(ct.codes), unmapped=ct.unmapped)
    return out


def build_sources(m: MappingFile, where: str, layout: Layout | None, code_tables: dict[str, CodeMap],
                  lookups: dict[str, LookupTable], problems: list[str]) -> list[Source]:
    sources = [_source(s, f"{where}:sources[{i}]({s.name})", layout, code_tables, lookups, problems)
               for i, s in enumerate(m.sources)]
    names = [s.name for s in sources]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"{where}:sources: name {dup!r} is used twice")
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
            problems.append(f"{at}.file: {lk.file!r} is not a file (paths are relative to the mapping)")
            continue
        data = file.read_bytes()
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            problems.append(f"{file}: not UTF-8 (byte offset {exc.start}): save the table as UTF-8")
            continue
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter="\t" if file.suffix == ".tsv" else ","))
        header = [h.strip() for h in rows[0]] if rows else []
        missing = [c for c in (lk.key, lk.value) if c not in header]
        if missing:
            problems.append(f"{file}: no column {', '.join(map(repr, missing))} in its header ({', '.join(header)})")
            continue
        k, v = header.index(lk.key), header.index(lk.value)
        entries: dict[str, str] = {}
        for n, row in enumerate(rows[1:], start=2):
            if len(row) <= max(k, v) or not row[k].strip():
                continue
            key, value = row[k].strip(), row[v].strip()
            if entries.get(key, value) != value:
                problems.append(f"{file}:{n}: {lk.key} {key!r} is listed with two values ({entries[key]!r}, {value!r})")
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
        problems.append(f"{where}.encoding: write 'cp932' for {encoding!r}: municipal Shift_JIS exports are "
                        f"CP932 in practice (DOMAIN.md §5)")
    elif encoding not in allowed:
        problems.append(f"{where}.encoding: {encoding!r} is not supported for {s.format}"
                        f"{did_you_mean(encoding, allowed)} ({', '.join(allowed)})")
    for key, val in (("delimiter", s.delimiter), ("quote", s.quote)):
        if len(val) != 1 or ord(val) > 0x7F or val in "\r\n":
            problems.append(f"{where}.{key}: {val!r} must be one ASCII character")
    table: Table | None = None
    if layout is not None:
        if s.table not in layout.tables:
            problems.append(f"{where}.table: {s.table!r} is not a table of layout {layout.id}"
                            f"{did_you_mean(s.table, layout.tables)} ({', '.join(layout.tables)})")
        else:
            table = layout.tables[s.table]

    def column_ok(column: str | int, at: str) -> None:
        if isinstance(column, int) and column < 1:
            problems.append(f"{at}: positions start at 1")
        if not s.header and isinstance(column, str):
            problems.append(f"{at}: the file has no header, so name the column by position (1, 2, …)")

    items: list[ItemMap] = []
    for item_id, spec in s.items.items():
        iw = f"{where}.items.{item_id}"
        given = [k for k in ("column", "value", "concat") if getattr(spec, k) is not None]
        if len(given) > 1 or (not given and spec.default_from is None):
            problems.append(f"{iw}: give exactly one of 'column' (legacy column), 'value' (constant) or 'concat' "
                            "(columns joined)" + (", or default_from alone" if not given else ""))
        if (spec.concat is None) != (spec.separator is None):
            problems.append(f"{iw}: concat needs separator (what goes between two parts, e.g. a full-width space) "
                            "and separator needs concat")
        if spec.lookup is not None:
            if spec.column is None:
                problems.append(f"{iw}.lookup: a lookup reads one column: give column (the key's column)")
            if spec.lookup not in lookups:
                problems.append(f"{iw}.lookup: {spec.lookup!r} is not defined under lookups"
                                f"{did_you_mean(spec.lookup, lookups)}")
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
        problems.append(f"{where}: item {dup} is given twice (in items and/or split): one source per item")
    for im in items:
        if im.default_from is not None and table is not None:
            if im.default_from not in table.item_ids:
                problems.append(f"{where}.items.{im.item}.default_from: {unknown_item(im.default_from, table)}")
            elif im.default_from == im.item:
                problems.append(f"{where}.items.{im.item}.default_from: an item cannot default to itself")
    chain = {im.item: im.default_from for im in items if im.default_from}
    for start in chain:
        seen, at = {start}, chain.get(start)
        while at in chain:
            if at in seen:
                problems.append(f"{where}: default_from goes round in a circle through {start}")
                break
            seen.add(at)
            at = chain[at]
    not_provided = tuple(s.not_provided.items())
    for item_id, why in not_provided:
        at = f"{where}.not_provided.{item_id}"
        if table is not None and item_id not in table.item_ids:
            problems.append(f"{at}: {unknown_item(item_id, table)}")
        if item_id in fed:
            problems.append(f"{at}: the item is mapped too: an item is either provided or not")
        if item_id == "municipality_code":
            problems.append(f"{at}: every record carries its municipality (the landed partition key): "
                            "give value: \"<code>\" instead")
        if not why.strip():
            problems.append(f"{at}: say why the export does not have it (shown in the summary and report)")
    if table is not None:
        absent = set(fed) | {i for i, _ in not_provided}
        for it in table.items:
            if it.required and it.id not in absent:
                problems.append(f"{where}.items: required item {it.id} ({it.name_ja}) is not mapped: map it, give "
                                f"a constant (value:), or list it under not_provided with the reason")
    fates = tuple(ColumnFate(column=c, fate="keep" if isinstance(f, KeepFile) else "drop",
                             reason=f.keep if isinstance(f, KeepFile) else f.drop)
                  for c, f in s.unmapped_columns.items())
    read = {str(c) for im in items for c in im.columns} | {str(sp.column) for sp in splits}
    for fate in fates:
        if fate.column in read:
            problems.append(f"{where}.unmapped_columns.{fate.column}: the column is read by an item: it is mapped")
    fixed = _fixed(s, where, problems) if s.format == "fixed" else None
    xml = _xml(s, where, problems) if s.format == "xml" else None
    if fixed is not None or xml is not None:
        names = {f.name for f in fixed.fields} if fixed is not None else set(xml.fields)
        named = [(f"items.{im.item}", c) for im in items for c in im.columns] + \
            [("split", sp.column) for sp in splits] + [(f"unmapped_columns.{f.column}", f.column) for f in fates]
        for at, column in named:
            if str(column) not in names:
                problems.append(f"{where}.{at}: {column!r} is not one of the fields"
                                f"{did_you_mean(str(column), names)} ({', '.join(sorted(names))})")
    elif s.fields:
        problems.append(f"{where}.fields: only fixed-width and XML sources declare fields (a {s.format} source's "
                        "columns come from the file)")
    if s.sheet is not None and s.format != "xlsx":
        problems.append(f"{where}.sheet: only an xlsx source has sheets")
    bad_glob = glob_problem(s.files)
    if bad_glob:
        problems.append(f"{where}.files: {bad_glob}")
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
    except pl.exceptions.PolarsError as exc:
        problems.append(f"{where}.pattern: not a regular expression polars can run: {str(exc).splitlines()[0]}")
        groups = []
    if not groups and not any("not a regular expression" in p for p in problems[-1:]):
        problems.append(f"{where}.pattern: name a group per item, e.g. (?P<address_town>…)")
    if table is not None:
        for g in groups:
            if g not in table.item_ids:
                problems.append(f"{where}.pattern: group {g!r}: {unknown_item(g, table)}")
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
        problems.append(f"{where}: {unknown_item(im.item, table)}")
        return
    if im.code_table is not None:
        if item.code_table is None:
            problems.append(f"{where}.code_table: item {item.id} ({item.name_ja}) has no standard code table")
        elif im.code_table not in code_tables:
            problems.append(f"{where}.code_table: {im.code_table!r} is not defined under code_tables"
                            f"{did_you_mean(im.code_table, code_tables)}")
        elif code_tables[im.code_table].standard != item.code_table:
            problems.append(f"{where}.code_table: {im.code_table!r} converts to {code_tables[im.code_table].standard!r}"
                            f" but item {item.id} uses standard code table {item.code_table!r}")
    if im.date_forms is not None and not item.is_date:
        problems.append(f"{where}.date_forms: item {item.id} is not a date")
    if im.pad is not None and item.is_date:
        problems.append(f"{where}.pad: zero-padding applies to text/number items, not to a date")


def _field(f: FieldFile | str, name: str, where: str, problems: list[str], record_length: int) -> FieldSpec | None:
    if isinstance(f, str):
        problems.append(f"{where}: a fixed-width field is {{offset, length[, type]}}, not a path ({f!r})")
        return None
    if f.offset + f.length > record_length:
        problems.append(f"{where}: bytes {f.offset}..{f.offset + f.length - 1} do not fit a {record_length}-byte record")
    if f.type == "kanji" and f.length % 2:
        problems.append(f"{where}: a kanji (double-byte) field has an even length in bytes")
    if f.type == "packed" and f.length > 9:
        problems.append(f"{where}: packed fields of up to 9 bytes (17 digits) are supported")
    if f.type == "zoned" and f.length > 18:
        problems.append(f"{where}: zoned fields of up to 18 digits are supported")
    return FieldSpec(name=name, offset=f.offset, length=f.length, type=f.type, scale=f.scale, pad=f.pad)


def _fixed(s: SourceFile, where: str, problems: list[str]) -> FixedLayout:
    length = s.record_length or 0
    if not length:
        problems.append(f"{where}: missing required key 'record_length' (the record's size in bytes)")
        length = 1
    if s.short_records == "pad" and s.newline == "none":
        problems.append(f"{where}.short_records: 'pad' needs records that end in a newline (newline: none "
                        "has no way to tell where a short record ends)")
    if not s.fields:
        problems.append(f"{where}: missing required key 'fields' (byte offset and length of each field)")
    fields = tuple(f for f in (_field(spec, name, f"{where}.fields.{name}", problems, length)
                               for name, spec in s.fields.items()) if f is not None)
    rtype = _field(s.record_type, "record_type", f"{where}.record_type", problems, length) if s.record_type else None
    header_codes = tuple(str(c) for c in s.header_codes)
    data_codes = tuple(str(c) for c in s.data_codes)
    trailer = None
    if s.trailer is not None:
        t = s.trailer
        trailer = TrailerSpec(
            code=str(t.code),
            count=_field(t.count, "count", f"{where}.trailer.count", problems, length) if t.count else None,
            sum_of=t.sum_of, sum=_field(t.sum, "sum", f"{where}.trailer.sum", problems, length) if t.sum else None)
        numeric = {f.name for f in fields if f.type != "text"}
        if (t.sum_of is None) != (t.sum is None):
            problems.append(f"{where}.trailer: give both 'sum_of' (a numeric field) and 'sum' (where the total is)")
        elif t.sum_of is not None and t.sum_of not in numeric:
            problems.append(f"{where}.trailer.sum_of: {t.sum_of!r} is not a zoned or packed field")
    codes = list(header_codes + data_codes + ((trailer.code,) if trailer else ()))
    if rtype is None and (header_codes or trailer):
        problems.append(f"{where}: header_codes and trailer need record_type (where the type code is)")
    if rtype is not None and not data_codes:
        problems.append(f"{where}.data_codes: with a record_type, list the codes of data records")
    if len(set(codes)) != len(codes):
        problems.append(f"{where}: a record type code is listed twice")
    if rtype is not None and any(len(c) != rtype.length for c in codes):
        problems.append(f"{where}: record type codes must be {rtype.length} character(s) long")
    return FixedLayout(record_length=length, newline=s.newline, short_records=s.short_records, record_type=rtype,
                       header_codes=header_codes, data_codes=data_codes, trailer=trailer, fields=fields)


def _xml(s: SourceFile, where: str, problems: list[str]) -> XmlLayout:
    if not s.record:
        problems.append(f"{where}: missing required key 'record' (the element path of a record)")
    fields: dict[str, str] = {}
    for name, path in s.fields.items():
        if not isinstance(path, str):
            problems.append(f"{where}.fields.{name}: an XML field is a path inside the record (e.g. 氏名/漢字 or @id)")
            continue
        fields[name] = path
    if not s.fields:
        problems.append(f"{where}: missing required key 'fields' (each field's path inside a record)")
    for path in [s.record or "", *fields.values()]:
        for step in path.replace("@", "/").split("/"):
            if ":" in step and step.split(":", 1)[0] not in s.namespaces:
                problems.append(f"{where}: prefix {step.split(':', 1)[0]!r} in {path!r} is not under namespaces")
    for name, path in fields.items():
        if path.count("@") > 1 or ("@" in path and not path.split("/")[-1].startswith("@")):
            problems.append(f"{where}.fields.{name}: {path!r}: an attribute (@name) may only end a path")
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
            problems.append(f"{at}: {unknown_item(item_id, first)}")
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
                    problems.append(f"{at}.{kind}: item {item_id} ({it.name_ja}) has no {kind} check in layout "
                                    f"{layout.id}")
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
                    problems.append(f"{at}.{key}: item {item_id} ({it.name_ja}) has no {key} in layout {layout.id}")
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

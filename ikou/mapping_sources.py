"""The checks of a mapping's sources and code tables against its layout, and the runtime
objects they become (``ikou.mapping``). Every problem is appended to ``problems``: a mapping is
reported whole, never problem by problem."""

from __future__ import annotations

from ikou.config.base import did_you_mean, suggest
from ikou.config.mapping_file import FieldFile, MappingFile, SourceFile
from ikou.layout import Layout, Table
from ikou.mapping import (ENCODINGS, FIXED_ENCODINGS, CodeMap, FieldSpec, FixedLayout, ItemMap, Source, TrailerSpec,
                          XmlLayout, check_date_forms)


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
                  problems: list[str]) -> list[Source]:
    sources = [_source(s, f"{where}:sources[{i}]({s.name})", layout, code_tables, problems)
               for i, s in enumerate(m.sources)]
    names = [s.name for s in sources]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"{where}:sources: name {dup!r} is used twice")
    return sources


def _source(s: SourceFile, where: str, layout: Layout | None, code_tables: dict[str, CodeMap],
            problems: list[str]) -> Source:
    encoding = s.encoding.lower().replace("_", "-")
    allowed = FIXED_ENCODINGS if s.format == "fixed" else ENCODINGS
    if encoding in {"shift-jis", "sjis", "ms932", "windows-31j"}:
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
    items: list[ItemMap] = []
    for item_id, spec in s.items.items():
        iw = f"{where}.items.{item_id}"
        if (spec.column is None) == (spec.value is None):
            problems.append(f"{iw}: give exactly one of 'column' (legacy column) or 'value' (constant)")
        if isinstance(spec.column, int) and spec.column < 1:
            problems.append(f"{iw}.column: positions start at 1")
        if not s.header and isinstance(spec.column, str):
            problems.append(f"{iw}.column: the file has no header, so name the column by position (1, 2, …)")
        im = ItemMap(item=item_id, column=spec.column, value=None if spec.value is None else str(spec.value),
                     pad=spec.pad, code_table=spec.code_table,
                     date_forms=check_date_forms(spec.date_forms, f"{iw}.date_forms", problems))
        if table is not None:
            _check_item_map(im, table, code_tables, iw, problems)
        items.append(im)
    if table is not None:
        mapped = {im.item for im in items}
        for it in table.items:
            if it.required and it.id not in mapped:
                problems.append(f"{where}.items: required item {it.id} ({it.name_ja}) is not mapped")
    fixed = _fixed(s, where, problems) if s.format == "fixed" else None
    xml = _xml(s, where, problems) if s.format == "xml" else None
    if fixed is not None or xml is not None:
        names = {f.name for f in fixed.fields} if fixed is not None else set(xml.fields)
        for im in items:
            if isinstance(im.column, str) and im.column not in names:
                problems.append(f"{where}.items.{im.item}: {im.column!r} is not one of the fields"
                                f"{did_you_mean(im.column, names)} ({', '.join(sorted(names))})")
    elif s.fields:
        problems.append(f"{where}.fields: only fixed-width and XML sources declare fields (a {s.format} source's "
                        "columns come from the file)")
    return Source(name=s.name, table=s.table, files=s.files, format=s.format, encoding=encoding,
                  skip_rows=s.skip_rows, header=s.header, skip_after_header=s.skip_after_header,
                  delimiter=s.delimiter, quote=s.quote, max_invalid_rate=s.max_invalid_rate, items=tuple(items),
                  fixed=fixed, xml=xml)


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

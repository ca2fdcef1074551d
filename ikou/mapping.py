"""A municipality's mapping (移行マッピング): how one legacy export lands in a standard layout.

Loaded from YAML into frozen dataclasses and checked against the layout before any data is
read; every problem is collected and reported at once. Complete reference: docs/mapping.md.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ikou.errors import IkouError
from ikou.layout import Layout, Table, _Reader, load_layout

FORMATS = {"csv", "fixed", "xml"}
# name in the mapping -> Python codec. CSV takes only ASCII-compatible encodings: its scanner
# finds quotes, separators and line ends at the byte level, which is safe for these alone.
ENCODINGS = {"cp932": "cp932", "utf-8": "utf-8", "utf-8-sig": "utf-8"}
# fixed-width records may also be EBCDIC (ikou.codecs registers these)
FIXED_ENCODINGS = {**ENCODINGS, "cp930": "cp930", "cp939": "cp939", "ebcdik": "ebcdik", "jef": "jef",
                   "jef-ebcdic": "jef_ebcdic", "keis": "keis",
                   # single-byte EBCDIC, Python's own codecs
                   "cp037": "cp037", "cp273": "cp273", "cp500": "cp500", "cp1140": "cp1140"}
FIELD_TYPES = {"text", "kanji", "zoned", "packed"}  # kanji: double-byte throughout, no shift codes
NEWLINES = {"auto", "crlf", "lf", "none"}
DATE_FORMS = ("wareki_kanji", "wareki_abbrev", "wareki_numeric", "wareki_numeric8", "iso", "yyyymmdd",
              "seireki_kanji", "excel_serial")
OUTSIDE_ERA_POLICIES = ("alert", "error", "convert")
DEFAULT_DATE_FORMS = ("wareki_kanji", "wareki_abbrev", "iso", "yyyymmdd", "seireki_kanji")
ERA_CONVENTIONS = {
    "1-5": {1: "明治", 2: "大正", 3: "昭和", 4: "平成", 5: "令和"},
    "1,3,5,7,9": {1: "明治", 3: "大正", 5: "昭和", 7: "平成", 9: "令和"},
}
UNMAPPED_POLICIES = {"reject", "alert", "fail"}


@dataclass(frozen=True)
class ItemMap:
    """Where one standard item comes from: a legacy column (name or 1-based position) or a constant."""
    item: str
    column: str | int | None = None
    value: str | None = None
    pad: int | None = None
    code_table: str | None = None
    date_forms: tuple[str, ...] | None = None


@dataclass(frozen=True)
class CodeMap:
    """Legacy codes -> standard codes of one standard code table."""
    id: str
    standard: str
    codes: dict[str, str]
    unmapped: str = "reject"


@dataclass(frozen=True)
class FieldSpec:
    """A field of a fixed-width record: byte offset and length, and how its bytes are read."""
    name: str
    offset: int
    length: int
    type: str = "text"  # text | zoned | packed
    scale: int = 0  # implied decimal places of a number
    pad: str = " "  # trailing padding removed from text (a property of the format, not cleansing)


@dataclass(frozen=True)
class TrailerSpec:
    code: str
    count: FieldSpec | None = None  # the number of data records, as the exporting system counted them
    sum_of: str | None = None  # a numeric data field whose total (hash total) the trailer states
    sum: FieldSpec | None = None


@dataclass(frozen=True)
class FixedLayout:
    record_length: int
    newline: str = "auto"  # auto | crlf | lf | none (one stream of fixed-size records)
    short_records: str = "reject"  # reject | pad (the exporter trimmed trailing blanks: pad them back)
    record_type: FieldSpec | None = None
    header_codes: tuple[str, ...] = ()
    data_codes: tuple[str, ...] = ()
    trailer: TrailerSpec | None = None
    fields: tuple[FieldSpec, ...] = ()


@dataclass(frozen=True)
class XmlLayout:
    """Where the records of an XML export are and where each field is inside a record."""
    record: str  # element path of a record, e.g. "住民一覧/住民" or "j:一覧/j:住民"
    fields: dict[str, str]  # field name -> path relative to the record: "氏名/漢字" or "@性別" or "."
    namespaces: dict[str, str] = field(default_factory=dict)  # prefix -> namespace URI


@dataclass(frozen=True)
class Source:
    name: str
    table: str
    files: str
    format: str = "csv"
    encoding: str = "cp932"
    skip_rows: int = 0
    header: bool = True
    skip_after_header: int = 0
    delimiter: str = ","
    quote: str = '"'
    max_invalid_rate: float = 0.5
    items: tuple[ItemMap, ...] = ()
    fixed: FixedLayout | None = None
    xml: XmlLayout | None = None

    @property
    def codec(self) -> str:
        return FIXED_ENCODINGS[self.encoding]


@dataclass(frozen=True)
class GaijiTable:
    """A municipality's 外字 table: private-use characters (how CP932 user-area bytes F040–F9FC and
    other vendors' user areas decode) -> the registered character as Unicode, optionally with an
    IVS selector and an MJ 文字図形名. Versioned, kept beside the mapping (docs/mapping.md)."""
    path: str
    version: str
    entries: dict[str, str]  # one private-use character -> replacement sequence
    mj: dict[str, str]  # private-use character -> MJ id, where known
    unmapped: str = "alert"  # alert | reject: what a private-use character without an entry does


@dataclass(frozen=True)
class Thresholds:
    """Limits beyond which a run ends with exit code 1 (the data still lands in migrate). Rates
    are fractions of source records; ``rules`` caps single reject reasons or alert codes (e.g.
    ``{check_digit: 0}``)."""
    max_reject_rate: float | None = None
    max_rejects: int | None = None
    max_alert_rate: float | None = None
    max_alerts: int | None = None
    rules: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class DedupSettings:
    """How duplicates beyond exact copies are found (名寄せ). ``method: exact`` (the default)
    merges exact copies only; ``probabilistic`` also scores every plausible pair of persons with
    a Fellegi-Sunter model (splink, trained without labels) and merges pairs at or above
    ``auto_merge``; pairs from ``review`` up to it go to the review queue. ``decisions``: the file
    of reviewers' decisions the next run reads (relative to the mapping; may not exist yet)."""
    method: str = "exact"
    auto_merge: float = 0.999
    review: float = 0.9
    decisions: Path | None = None
    backend: str = "duckdb"  # duckdb | spark (splink's SparkAPI; see docs/dedup.md)
    max_pairs_u: float = 2e6
    max_pairs_em: float = 3e6
    seed: int = 42

    @property
    def probabilistic(self) -> bool:
        return self.method == "probabilistic"


@dataclass(frozen=True)
class Mapping:
    municipality_code: str
    municipality_name: str
    layout: Layout
    sources: tuple[Source, ...]
    code_tables: dict[str, CodeMap]
    thresholds: Thresholds
    era_codes: str
    date_forms: tuple[str, ...]
    outside_era: str  # a date past its era's end (明治45年7月30日): alert | error | convert
    gaiji: GaijiTable | None
    vendor: str
    dedup: DedupSettings
    path: str
    sha256: str

    @property
    def eras(self) -> dict[int, str]:
        return ERA_CONVENTIONS[self.era_codes]


def load_mapping(path: str | Path, group_code_tables: dict | None = None) -> Mapping:
    path = Path(path)
    if not path.is_file():
        raise IkouError(f"mapping file {path} does not exist")
    data = path.read_bytes()
    try:
        raw = yaml.safe_load(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise IkouError(f"mapping {path} is not UTF-8 (byte offset {exc.start})",
                        hint="save the mapping file as UTF-8") from exc
    except yaml.YAMLError as exc:
        raise IkouError(f"mapping {path} is not valid YAML: {exc}") from exc
    problems: list[str] = []
    sha = hashlib.sha256(data)
    if group_code_tables:
        # a 自治体クラウド group's code tables (ikou migrate-group, docs/group.md), managed once for
        # the group: each replaces the mapping's table of the same name (a member's mappings for
        # other 業務 do not have it and are left alone)
        if isinstance(raw, dict):
            own = raw.get("code_tables") or {}
            used = {k: v for k, v in group_code_tables.items() if k in own}
            raw = dict(raw, code_tables={**own, **used})
            sha.update(json.dumps(used, sort_keys=True, ensure_ascii=False).encode("utf-8"))
    mapping = _parse(raw, str(path), sha.hexdigest(), problems)
    if problems:
        raise IkouError(f"mapping {path} has {len(problems)} problem(s); nothing was read or written",
                        problems=problems, hint="see docs/mapping.md for every key")
    return mapping


def _parse(raw: Any, where: str, sha: str, problems: list[str]) -> Mapping | None:
    r = _Reader(raw, where, problems, {"mapping_version", "municipality", "layout", "vendor",
                                       "thresholds", "dates", "sources", "code_tables", "gaiji", "dedup"})
    version = r.get("mapping_version", int, 1)
    if version != 1:
        problems.append(f"{where}: mapping_version {version} is not supported (this ikou reads 1)")
    mr = _Reader(r.get("municipality", dict, {}, required=True), f"{where}:municipality", problems,
                 {"code", "name"})
    code = str(mr.get("code", (str, int), "", required=True))
    if code and not (len(code) == 6 and code.isdigit()):
        problems.append(f"{where}:municipality.code: {code!r} must be the 6-digit 全国地方公共団体コード")
    elif code:
        from ikou.validators.check_digits import is_valid
        if not is_valid("lg_code", code):
            problems.append(f"{where}:municipality.code: {code} has a wrong check digit")
    layout_name = r.get("layout", str, "", required=True)
    layout = None
    if layout_name:
        try:
            layout = load_layout(layout_name)
        except IkouError as exc:
            problems.append(f"{where}:layout: {exc.message}" + "".join(f"; {p}" for p in exc.problems))

    thresholds = _parse_thresholds(r.get("thresholds", dict, {}), f"{where}:thresholds", problems)

    dr = _Reader(r.get("dates", dict, {}), f"{where}:dates", problems, {"era_codes", "forms", "outside_era"})
    era_codes = str(dr.get("era_codes", (str, int), "1-5")).replace(" ", "")
    if era_codes == "13579":
        era_codes = "1,3,5,7,9"
    if era_codes not in ERA_CONVENTIONS:
        problems.append(f"{where}:dates.era_codes: {era_codes!r} is not one of {sorted(ERA_CONVENTIONS)}")
    date_forms = _date_forms(dr.get("forms", list), f"{where}:dates.forms", problems) or DEFAULT_DATE_FORMS
    outside_era = dr.get("outside_era", str, "alert")
    if outside_era not in OUTSIDE_ERA_POLICIES:
        problems.append(f"{where}:dates.outside_era: {outside_era!r} is not one of {', '.join(OUTSIDE_ERA_POLICIES)}")

    dedup = _parse_dedup(r.get("dedup", dict, {}), where, layout, problems)

    gaiji_raw = r.get("gaiji", dict)
    gaiji = _parse_gaiji(gaiji_raw, where, problems) if gaiji_raw is not None else None

    code_tables: dict[str, CodeMap] = {}
    for ct_id, ct_raw in (r.get("code_tables", dict, {}) or {}).items():
        cr = _Reader(ct_raw, f"{where}:code_tables.{ct_id}", problems, {"standard", "unmapped", "codes"})
        standard = cr.get("standard", str, "", required=True)
        unmapped = cr.get("unmapped", str, "reject")
        if unmapped not in UNMAPPED_POLICIES:
            problems.append(f"{where}:code_tables.{ct_id}.unmapped: {unmapped!r} is not one of "
                            f"{sorted(UNMAPPED_POLICIES)}")
        codes = {str(k): str(v) for k, v in (cr.get("codes", dict, {}, required=True) or {}).items()}
        if layout is not None and standard:
            if standard not in layout.code_tables:
                problems.append(f"{where}:code_tables.{ct_id}.standard: {standard!r} is not a code table of "
                                f"layout {layout.id} ({', '.join(layout.code_tables)})")
            else:
                valid = layout.code_tables[standard].codes
                for legacy, target in codes.items():
                    if target not in valid:
                        problems.append(f"{where}:code_tables.{ct_id}: {legacy!r} maps to {target!r}, which is "
                                        f"not a {standard} code ({', '.join(valid)})")
        code_tables[ct_id] = CodeMap(id=ct_id, standard=standard, codes=codes, unmapped=unmapped)

    sources: list[Source] = []
    for i, s_raw in enumerate(r.get("sources", list, [], required=True)):
        src = _parse_source(s_raw, f"{where}:sources[{i}]", layout, code_tables, problems)
        if src is not None:
            sources.append(src)
    names = [s.name for s in sources]
    for dup in {n for n in names if names.count(n) > 1}:
        problems.append(f"{where}:sources: name {dup!r} is used twice")
    if layout is None:
        return None
    return Mapping(municipality_code=code, municipality_name=mr.get("name", str, ""), layout=layout,
                   sources=tuple(sources), code_tables=code_tables, thresholds=thresholds,
                   era_codes=era_codes, date_forms=tuple(date_forms), outside_era=outside_era, gaiji=gaiji,
                   vendor=r.get("vendor", str, ""), dedup=dedup,
                   path=where, sha256=sha)


def _date_forms(value: Any, where: str, problems: list[str]) -> tuple[str, ...] | None:
    if value is None:
        return None
    for f in value:
        if f not in DATE_FORMS:
            problems.append(f"{where}: {f!r} is not a date form ({', '.join(DATE_FORMS)})")
    if "yyyymmdd" in value and "wareki_numeric8" in value:
        problems.append(f"{where}: yyyymmdd and wareki_numeric8 are both eight digits: accept only one of them")
    return tuple(str(f) for f in value)


def _parse_thresholds(raw: Any, where: str, problems: list[str]) -> Thresholds:
    tr = _Reader(raw, where, problems, {"max_reject_rate", "max_rejects", "max_alert_rate", "max_alerts", "rules"})
    rates = {}
    for key in ("max_reject_rate", "max_alert_rate"):
        rate = tr.get(key, (int, float))
        if rate is not None and not 0 <= rate <= 1:
            problems.append(f"{where}.{key}: {rate} must be between 0 and 1")
        rates[key] = None if rate is None else float(rate)
    counts = {}
    for key in ("max_rejects", "max_alerts"):
        n = tr.get(key, int)
        if n is not None and n < 0:
            problems.append(f"{where}.{key}: {n} must be 0 or more")
        counts[key] = n
    rules = []
    for code, n in (tr.get("rules", dict, {}) or {}).items():
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            problems.append(f"{where}.rules.{code}: {n!r} must be a count of records, 0 or more")
        else:
            rules.append((str(code), n))
    return Thresholds(**rates, **counts, rules=tuple(sorted(rules)))


def _parse_source(raw: Any, where: str, layout: Layout | None, code_tables: dict[str, CodeMap],
                  problems: list[str]) -> Source | None:
    r = _Reader(raw, where, problems, {"name", "table", "files", "format", "encoding", "skip_rows",
                                       "header", "skip_after_header", "delimiter", "quote", "max_invalid_rate",
                                       "items", "record_length", "newline", "short_records", "record_type",
                                       "header_codes", "data_codes", "trailer", "fields", "record", "namespaces"})
    name = r.get("name", str, "", required=True)
    where = f"{where}({name})"
    fmt = r.get("format", str, "csv")
    if fmt not in FORMATS:
        problems.append(f"{where}.format: {fmt!r} is not supported (supported: {', '.join(sorted(FORMATS))})")
    encoding = r.get("encoding", str, "cp932").lower().replace("_", "-")
    if encoding in {"shift-jis", "sjis", "ms932", "windows-31j"}:
        problems.append(f"{where}.encoding: write 'cp932' for {encoding!r}: municipal Shift_JIS exports are "
                        f"CP932 in practice (DOMAIN.md §5)")
    elif encoding not in (FIXED_ENCODINGS if fmt == "fixed" else ENCODINGS):
        allowed = FIXED_ENCODINGS if fmt == "fixed" else ENCODINGS
        problems.append(f"{where}.encoding: {encoding!r} is not supported for {fmt} ({', '.join(allowed)})")
    header = r.get("header", bool, True)
    delimiter = r.get("delimiter", str, ",")
    quote = r.get("quote", str, '"')
    for key, val in (("delimiter", delimiter), ("quote", quote)):
        if len(val) != 1 or ord(val) > 0x7F or val in "\r\n":
            problems.append(f"{where}.{key}: {val!r} must be one ASCII character")
    skip_rows = r.get("skip_rows", int, 0)
    skip_after = r.get("skip_after_header", int, 0)
    if skip_rows < 0 or skip_after < 0:
        problems.append(f"{where}: skip_rows and skip_after_header must be 0 or more")
    max_invalid = r.get("max_invalid_rate", (int, float), 0.5)
    table_id = r.get("table", str, "", required=True)
    table: Table | None = None
    if layout is not None and table_id:
        if table_id not in layout.tables:
            problems.append(f"{where}.table: {table_id!r} is not a table of layout {layout.id} "
                            f"({', '.join(layout.tables)})")
        else:
            table = layout.tables[table_id]
    items: list[ItemMap] = []
    for item_id, spec in (r.get("items", dict, {}, required=True) or {}).items():
        iw = f"{where}.items.{item_id}"
        if isinstance(spec, (str, int)) and not isinstance(spec, bool):
            spec = {"column": spec}
        ir = _Reader(spec, iw, problems, {"column", "value", "pad", "code_table", "date_forms"})
        column = ir.get("column", (str, int))
        value = ir.get("value", (str, int))
        if (column is None) == (value is None):
            problems.append(f"{iw}: give exactly one of 'column' (legacy column) or 'value' (constant)")
        if isinstance(column, int) and column < 1:
            problems.append(f"{iw}.column: positions start at 1")
        if not header and isinstance(column, str):
            problems.append(f"{iw}.column: the file has no header, so name the column by position (1, 2, …)")
        im = ItemMap(item=item_id, column=column, value=None if value is None else str(value),
                     pad=ir.get("pad", int), code_table=ir.get("code_table", str),
                     date_forms=_date_forms(ir.get("date_forms", list), f"{iw}.date_forms", problems))
        if table is not None:
            _check_item_map(im, table, code_tables, iw, problems)
        items.append(im)
    if table is not None:
        mapped = {im.item for im in items}
        for it in table.items:
            if it.required and it.id not in mapped:
                problems.append(f"{where}.items: required item {it.id} ({it.name_ja}) is not mapped")
    fixed = _parse_fixed(r, where, problems) if fmt == "fixed" else None
    xml = _parse_xml(r, where, problems) if fmt == "xml" else None
    if fixed is not None or xml is not None:
        names = {f.name for f in fixed.fields} if fixed is not None else set(xml.fields)
        for im in items:
            if isinstance(im.column, str) and im.column not in names:
                problems.append(f"{where}.items.{im.item}: {im.column!r} is not one of the fields "
                                f"({', '.join(sorted(names))})")
    return Source(name=name, table=table_id, files=r.get("files", str, "", required=True), format=fmt, fixed=fixed,
                  xml=xml,
                  encoding=encoding, skip_rows=skip_rows, header=header, skip_after_header=skip_after, delimiter=delimiter, quote=quote,
                  max_invalid_rate=float(max_invalid), items=tuple(items))


def _check_item_map(im: ItemMap, table: Table, code_tables: dict[str, CodeMap], where: str,
                    problems: list[str]) -> None:
    try:
        item = table.item(im.item)
    except KeyError:
        problems.append(f"{where}: {im.item!r} is not an item of table {table.id} "
                        f"(items: {', '.join(table.item_ids)})")
        return
    if im.code_table is not None:
        if item.code_table is None:
            problems.append(f"{where}.code_table: item {item.id} ({item.name_ja}) has no standard code table")
        elif im.code_table not in code_tables:
            problems.append(f"{where}.code_table: {im.code_table!r} is not defined under code_tables")
        elif code_tables[im.code_table].standard != item.code_table:
            problems.append(f"{where}.code_table: {im.code_table!r} converts to {code_tables[im.code_table].standard!r}"
                            f" but item {item.id} uses standard code table {item.code_table!r}")
    if im.date_forms is not None and not item.is_date:
        problems.append(f"{where}.date_forms: item {item.id} is not a date")
    if im.pad is not None and (item.is_date or im.pad < 1):
        problems.append(f"{where}.pad: zero-padding applies to text/number items, to a width of 1 or more")


def _field(raw: Any, name: str, where: str, problems: list[str], record_length: int) -> FieldSpec:
    fr = _Reader(raw, where, problems, {"offset", "length", "type", "scale", "pad"})
    offset, length = fr.get("offset", int, 0, required=True), fr.get("length", int, 1, required=True)
    ftype = fr.get("type", str, "text")
    if ftype not in FIELD_TYPES:
        problems.append(f"{where}.type: {ftype!r} is not one of {sorted(FIELD_TYPES)}")
    if offset < 0 or length < 1 or offset + length > record_length:
        problems.append(f"{where}: bytes {offset}..{offset + length - 1} do not fit a {record_length}-byte record")
    if ftype == "kanji" and length % 2:
        problems.append(f"{where}: a kanji (double-byte) field has an even length in bytes")
    if ftype == "packed" and length > 9:
        problems.append(f"{where}: packed fields of up to 9 bytes (17 digits) are supported")
    if ftype == "zoned" and length > 18:
        problems.append(f"{where}: zoned fields of up to 18 digits are supported")
    return FieldSpec(name=name, offset=offset, length=length, type=ftype, scale=fr.get("scale", int, 0),
                     pad=fr.get("pad", str, " "))


def _parse_fixed(r: _Reader, where: str, problems: list[str]) -> FixedLayout:
    length = r.get("record_length", int, 0, required=True)
    if length < 1:
        problems.append(f"{where}.record_length: must be the record's size in bytes (1 or more)")
        length = 1
    newline = r.get("newline", str, "auto")
    if newline not in NEWLINES:
        problems.append(f"{where}.newline: {newline!r} is not one of {sorted(NEWLINES)}")
    short_records = r.get("short_records", str, "reject")
    if short_records not in ("reject", "pad"):
        problems.append(f"{where}.short_records: {short_records!r} is not 'reject' or 'pad'")
    elif short_records == "pad" and newline == "none":
        problems.append(f"{where}.short_records: 'pad' needs records that end in a newline (newline: none "
                        "has no way to tell where a short record ends)")
    fields = tuple(_field(spec, str(name), f"{where}.fields.{name}", problems, length)
                   for name, spec in (r.get("fields", dict, {}, required=True) or {}).items())
    record_type = r.get("record_type", dict)
    rtype = _field(record_type, "record_type", f"{where}.record_type", problems, length) if record_type else None
    header_codes = tuple(str(c) for c in r.get("header_codes", list, []))
    data_codes = tuple(str(c) for c in r.get("data_codes", list, []))
    trailer = None
    t_raw = r.get("trailer", dict)
    if t_raw is not None:
        tr = _Reader(t_raw, f"{where}.trailer", problems, {"code", "count", "sum_of", "sum"})
        count, total = tr.get("count", dict), tr.get("sum", dict)
        sum_of = tr.get("sum_of", str)
        trailer = TrailerSpec(
            code=str(tr.get("code", (str, int), "", required=True)),
            count=_field(count, "count", f"{where}.trailer.count", problems, length) if count else None,
            sum_of=sum_of,
            sum=_field(total, "sum", f"{where}.trailer.sum", problems, length) if total else None)
        numeric = {f.name for f in fields if f.type != "text"}
        if (sum_of is None) != (trailer.sum is None):
            problems.append(f"{where}.trailer: give both 'sum_of' (a numeric field) and 'sum' (where the total is)")
        elif sum_of is not None and sum_of not in numeric:
            problems.append(f"{where}.trailer.sum_of: {sum_of!r} is not a zoned or packed field")
    codes = [c for c in header_codes + data_codes + ((trailer.code,) if trailer else ())]
    if rtype is None and (header_codes or trailer):
        problems.append(f"{where}: header_codes and trailer need record_type (where the type code is)")
    if rtype is not None and not data_codes:
        problems.append(f"{where}.data_codes: with a record_type, list the codes of data records")
    if len(set(codes)) != len(codes):
        problems.append(f"{where}: a record type code is listed twice")
    if rtype is not None and any(len(c) != rtype.length for c in codes):
        problems.append(f"{where}: record type codes must be {rtype.length} character(s) long")
    names = [f.name for f in fields]
    for dup in {n for n in names if names.count(n) > 1}:
        problems.append(f"{where}.fields: {dup!r} appears more than once")
    return FixedLayout(record_length=length, newline=newline, short_records=short_records, record_type=rtype,
                       header_codes=header_codes, data_codes=data_codes, trailer=trailer, fields=fields)


def _parse_xml(r: _Reader, where: str, problems: list[str]) -> XmlLayout:
    record = r.get("record", str, "", required=True)
    namespaces = {str(k): str(v) for k, v in (r.get("namespaces", dict, {}) or {}).items()}
    fields = {str(k): str(v) for k, v in (r.get("fields", dict, {}, required=True) or {}).items()}
    for path in [record, *fields.values()]:
        for step in path.replace("@", "/").split("/"):
            if ":" in step and step.split(":", 1)[0] not in namespaces:
                problems.append(f"{where}: prefix {step.split(':', 1)[0]!r} in {path!r} is not under namespaces")
    for name, path in fields.items():
        if path.count("@") > 1 or ("@" in path and not path.split("/")[-1].startswith("@")):
            problems.append(f"{where}.fields.{name}: {path!r}: an attribute (@name) may only end a path")
    return XmlLayout(record=record, fields=fields, namespaces=namespaces)


PRIVATE_USE = (0xE000, 0xF8FF)


def _parse_dedup(raw: Any, where: str, layout: Layout | None, problems: list[str]) -> DedupSettings:
    dr = _Reader(raw, f"{where}:dedup", problems, {"method", "auto_merge", "review", "decisions", "backend",
                                                   "training"})
    method = dr.get("method", str, "exact")
    if method not in ("exact", "probabilistic"):
        problems.append(f"{where}:dedup.method: {method!r} is not exact or probabilistic")
    auto = float(dr.get("auto_merge", (int, float), 0.999))
    review = float(dr.get("review", (int, float), 0.9))
    if not 0 < review <= auto <= 1:
        problems.append(f"{where}:dedup: need 0 < review ({review}) <= auto_merge ({auto}) <= 1 "
                        "(match probabilities)")
    backend = dr.get("backend", str, "duckdb")
    if backend not in ("duckdb", "spark"):
        problems.append(f"{where}:dedup.backend: {backend!r} is not duckdb or spark")
    decisions = dr.get("decisions", str)
    tr = _Reader(dr.get("training", dict, {}), f"{where}:dedup.training", problems,
                 {"max_pairs_u", "max_pairs_em", "seed"})
    if method == "probabilistic" and layout is not None:
        without = [t for t in layout.tables.values() if t.matching is None]
        if len(without) == len(layout.tables):
            problems.append(f"{where}:dedup.method: layout {layout.id} names no matching roles (tables.*.matching)")
    return DedupSettings(method=method, auto_merge=auto, review=review,
                         decisions=(Path(where).parent / decisions) if decisions else None, backend=backend,
                         max_pairs_u=float(tr.get("max_pairs_u", (int, float), 2e6)),
                         max_pairs_em=float(tr.get("max_pairs_em", (int, float), 3e6)),
                         seed=tr.get("seed", int, 42))


def _parse_gaiji(raw: Any, where: str, problems: list[str]) -> GaijiTable | None:
    """``gaiji: {table: file.tsv, version: "…", unmapped: alert|reject}``; the TSV has the columns
    ``code`` (U+E000, or CP932 user-area bytes such as F040), ``unicode`` (code points such as
    ``845B E0100``), ``mj`` (optional MJ id) and ``note``. The path is relative to the mapping."""
    gr = _Reader(raw, f"{where}:gaiji", problems, {"table", "version", "unmapped"})
    table = gr.get("table", str, "", required=True)
    version = str(gr.get("version", (str, int, float), "", required=True))
    unmapped = gr.get("unmapped", str, "alert")
    if unmapped not in ("alert", "reject"):
        problems.append(f"{where}:gaiji.unmapped: {unmapped!r} is not alert or reject")
    path = (Path(where).parent / table) if table else None
    entries: dict[str, str] = {}
    mj: dict[str, str] = {}
    if path is None or not path.is_file():
        problems.append(f"{where}:gaiji.table: {table!r} is not a file (paths are relative to the mapping)")
        return None
    lines = path.read_text(encoding="utf-8").splitlines()
    header = [h.strip() for h in lines[0].split("\t")] if lines else []
    if header[:2] != ["code", "unicode"]:
        problems.append(f"{path}: the first line must name the columns: code, unicode[, mj, note] (tab-separated)")
        return None
    for n, line in enumerate(lines[1:], start=2):
        if not line.strip() or line.startswith("#"):
            continue
        cells = dict(zip(header, (c.strip() for c in line.split("\t"))))
        try:
            char = _gaiji_code(cells["code"])
            replacement = "".join(chr(int(cp.removeprefix("U+"), 16)) for cp in cells.get("unicode", "").split())
        except (ValueError, UnicodeDecodeError) as exc:
            problems.append(f"{path}:{n}: {exc}")
            continue
        if not replacement:
            problems.append(f"{path}:{n}: no replacement for {cells['code']}")
        elif char in entries:
            problems.append(f"{path}:{n}: {cells['code']} is listed twice")
        elif any(PRIVATE_USE[0] <= ord(ch) <= PRIVATE_USE[1] for ch in replacement):
            problems.append(f"{path}:{n}: the replacement of {cells['code']} is itself a private-use character")
        else:
            entries[char] = replacement
            if cells.get("mj"):
                mj[char] = cells["mj"]
    return GaijiTable(path=str(path), version=version, entries=entries, mj=mj, unmapped=unmapped)


def _gaiji_code(code: str) -> str:
    """U+E000 -> the character; F040 (CP932 user-area bytes) -> the character it decodes to."""
    if code.upper().startswith("U+"):
        char = chr(int(code[2:], 16))
    else:
        char = bytes.fromhex(code).decode("cp932")
    if len(char) != 1 or not PRIVATE_USE[0] <= ord(char) <= PRIVATE_USE[1]:
        raise ValueError(f"{code} is not a private-use (外字) character")
    return char

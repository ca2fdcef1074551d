"""A municipality's mapping (移行マッピング): how one legacy export lands in a standard layout.

The file is validated by its typed model (``ikou.config.mapping_file``), then checked against
the layout before any data is read; every problem is collected and reported at once, and it
becomes the frozen runtime mapping below. Every relative path in a mapping (layout, 外字 table,
decisions, lookup tables) is read from the mapping file's folder. Reference: docs/mapping.md.
"""

from __future__ import annotations

import hashlib
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ikou.config.base import load_yaml, validate_file
from ikou.config.mapping_file import DateForm, DedupFile, GaijiFile, MappingFile
from ikou.errors import IkouError
from ikou.i18n import tr
from ikou.layout import Layout, load_layout
from ikou.paths import outside_problem
from ikou.scope import ScopeRule, build_rules, unfed_rules

# name in the mapping -> Python codec. CSV takes only ASCII-compatible encodings: its scanner
# finds quotes, separators and line ends at the byte level, which is safe for these alone.
ENCODINGS = {"cp932": "cp932", "utf-8": "utf-8", "utf-8-sig": "utf-8"}
# fixed-width records may also be EBCDIC (ikou.codecs registers these)
FIXED_ENCODINGS = {**ENCODINGS, "cp930": "cp930", "cp939": "cp939", "ebcdik": "ebcdik", "jef": "jef",
                   "jef-ebcdic": "jef_ebcdic", "keis": "keis",
                   # single-byte EBCDIC, Python's own codecs
                   "cp037": "cp037", "cp273": "cp273", "cp500": "cp500", "cp1140": "cp1140"}
DATE_FORMS = typing.get_args(DateForm)
DEFAULT_DATE_FORMS = ("wareki_kanji", "wareki_abbrev", "iso", "yyyymmdd", "seireki_kanji")
ERA_CONVENTIONS = {
    "1-5": {1: "明治", 2: "大正", 3: "昭和", 4: "平成", 5: "令和"},
    "1,3,5,7,9": {1: "明治", 3: "大正", 5: "昭和", 7: "平成", 9: "令和"},
}
PRIVATE_USE = (0xE000, 0xF8FF)


@dataclass(frozen=True)
class ItemMap:
    """Where one standard item comes from: a legacy column (name or 1-based position), a constant,
    columns joined (``concat`` with a declared ``separator``), a column looked up in a reference
    table (``lookup``); ``default_from``: another item whose value it takes when empty."""
    item: str
    column: str | int | None = None
    value: str | None = None
    pad: int | None = None
    code_table: str | None = None
    date_forms: tuple[str, ...] | None = None
    concat: tuple[str | int, ...] = ()
    separator: str | None = None
    lookup: str | None = None
    default_from: str | None = None

    @property
    def columns(self) -> tuple[str | int, ...]:
        """The legacy columns this item reads."""
        return ((self.column,) if self.column is not None else ()) + self.concat


@dataclass(frozen=True)
class SplitSpec:
    """One column split into the items named by the pattern's groups."""
    column: str | int
    pattern: str
    items: tuple[str, ...]
    on_mismatch: str = "error"  # error | alert


@dataclass(frozen=True)
class ColumnFate:
    """A column no item reads: ``drop`` (with the reason) or ``keep`` (its text lands in extras)."""
    column: str
    fate: str  # drop | keep
    reason: str = ""


@dataclass(frozen=True)
class LookupTable:
    """A reference table an item looks its value up in (a 町字 master: 町字名 -> 町字コード)."""
    id: str
    path: str
    key: str
    value: str
    entries: dict[str, str]
    unmatched: str = "alert"  # alert | error
    sha256: str = ""


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
    type: str = "text"  # text | kanji | zoned | packed | binary | native_binary | float (codecs/numeric.py)
    scale: int = 0  # implied decimal places of a number (negative: COBOL's P scaling)
    pad: str = " "  # trailing padding removed from text (a property of the format, not cleansing)
    sign: str = "trailing"  # zoned: trailing | leading | trailing_separate | leading_separate (codecs/numeric.py)
    overpunch: str = "auto"  # zoned, overpunched sign: auto | ascii | ibm | ebcdic
    signed: bool | None = None  # binary, native_binary: two's complement or unsigned
    byte_order: str = "little"  # float: IEEE 754 byte order


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
    other_codes: tuple[str, ...] = ()  # record types another source reads from the same file: skipped, counted
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
    max_record_lines: int = 20  # CSV: lines one record may span
    max_record_bytes: int = 65536  # CSV: bytes one record may hold
    items: tuple[ItemMap, ...] = ()
    fixed: FixedLayout | None = None
    xml: XmlLayout | None = None
    splits: tuple[SplitSpec, ...] = ()
    sheet: str | int | None = None  # xlsx: by name, or by position from 1
    unmapped_columns: tuple[ColumnFate, ...] = ()
    not_provided: tuple[tuple[str, str], ...] = ()  # (item, why the export lacks it)

    @property
    def split_items(self) -> dict[str, SplitSpec]:
        return {item: sp for sp in self.splits for item in sp.items}

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
    review: float = 0.5
    decisions: Path | None = None
    backend: str = "duckdb"  # duckdb | spark (splink's SparkAPI; see docs/dedup.md)
    max_pairs_u: float = 2e6
    max_pairs_em: float = 3e6
    seed: int = 42
    memory_limit: str = "512MB"  # DuckDB's memory while scoring; beyond it DuckDB spills to the run's staging folder
    # auto_merge_requires (docs/dedup.md): a pair is merged unasked only with one of these facts …
    requires_any: tuple[str, ...] = ("same_address", "same_phone", "same_household", "same_identifier",
                                     "same_family_register")
    # … and none of these
    requires_none: tuple[str, ...] = ("different_birth_date", "different_identifier")

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
    lookups: dict[str, LookupTable] = field(default_factory=dict)
    overrides: tuple[dict, ...] = ()  # the layout's checks this mapping turned off or moved: table, item, check, from, to
    scope: tuple[ScopeRule, ...] = ()  # records out of the migration's scope (ikou/scope.py)

    @property
    def eras(self) -> dict[int, str]:
        return ERA_CONVENTIONS[self.era_codes]

    @property
    def folder(self) -> Path:
        """Where the mapping's relative paths are read from."""
        return Path(self.path).parent


def read_yaml(path: Path, what: str) -> tuple[object, bytes]:
    """A UTF-8 YAML file's document and bytes; IkouError (exit 2) if it cannot be read."""
    if not path.is_file():
        raise IkouError(tr("{what} file {path} does not exist", what=what, path=path))
    data = path.read_bytes()
    try:
        return load_yaml(data.decode("utf-8")), data
    except UnicodeDecodeError as exc:
        raise IkouError(tr("{what} {path} is not UTF-8 (byte offset {start})", what=what, path=path, start=exc.start),
                        hint=tr("save the {what} file as UTF-8", what=what)) from exc
    except yaml.YAMLError as exc:
        raise IkouError(tr("{what} {path} is not valid YAML: {exc}", what=what, path=path, exc=exc)) from exc


def load_mapping(path: str | Path, group_code_tables: dict | None = None) -> Mapping:
    path = Path(path)
    raw, data = read_yaml(path, tr("mapping"))
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
    model = validate_file(MappingFile, raw, str(path), problems)
    mapping = _build(model, path, sha.hexdigest(), problems) if model is not None else None
    if problems or mapping is None:
        raise IkouError(tr("mapping {path} has {count} problem(s); nothing was read or written",
                           path=path, count=len(problems)),
                        problems=problems, hint=tr("see docs/mapping.md for every key"))
    return mapping


def _build(m: MappingFile, path: Path, sha: str, problems: list[str]) -> Mapping | None:
    from ikou.mapping_sources import apply_overrides, build_code_tables, build_lookups, build_sources
    from ikou.validators.check_digits import is_valid

    where = str(path)
    if m.mapping_version != 1:
        problems.append(tr("{where}:mapping_version: {mapping_version} is not supported (this ikou reads 1)",
                           where=where, mapping_version=m.mapping_version))
    code = str(m.municipality.code)
    if not (len(code) == 6 and code.isdigit()):
        problems.append(tr("{where}:municipality.code: {code!r} must be the 6-digit 全国地方公共団体コード",
                           where=where, code=code))
    elif not is_valid("lg_code", code):
        problems.append(tr("{where}:municipality.code: {code} has a wrong check digit", where=where, code=code))
    layout = None
    overrides: list[dict] = []
    try:
        named = Path(m.layout)
        if named.suffix in {".yaml", ".yml"} or "/" in m.layout or "\\" in m.layout:  # a file, not a bundled name
            outside = outside_problem(path.parent / named, path, "layout")
            if outside:
                raise IkouError(outside)
        layout = load_layout(m.layout, base=path.parent)
    except IkouError as exc:
        problems.append(f"{where}:layout: {exc.message}" + "".join(f"; {p}" for p in exc.problems))  # translated
    if layout is not None and m.checks:
        layout, overrides = apply_overrides(layout, m.checks, where, problems)
    era_codes = str(m.dates.era_codes).replace(" ", "")
    if era_codes == "13579":
        era_codes = "1,3,5,7,9"
    if era_codes not in ERA_CONVENTIONS:
        problems.append(tr("{where}:dates.era_codes: {era_codes!r} is not one of {sorted_ERA_CONVENTIONS}",
                           where=where, era_codes=era_codes, sorted_ERA_CONVENTIONS=sorted(ERA_CONVENTIONS)))
    date_forms = check_date_forms(m.dates.forms, f"{where}:dates.forms", problems) or DEFAULT_DATE_FORMS
    dedup = _dedup(m.dedup, path, layout, problems)
    gaiji = _gaiji(m.gaiji, path, problems) if m.gaiji is not None else None
    code_tables = build_code_tables(m, where, layout, problems)
    lookups = build_lookups(m, path, problems)
    sources = build_sources(m, where, layout, code_tables, lookups, problems)
    scope = build_rules(m.scope, layout, where, problems)
    fed: dict[str, set[str]] = {}
    for s in sources:
        fed.setdefault(s.table, set()).update([im.item for im in s.items] + [i for sp in s.splits for i in sp.items])
    problems += [f"{where}:{p}" for p in unfed_rules(scope, fed)]
    declared: dict[str, set[str]] = {}
    for s in sources:
        named = {str(im.column) for im in s.items if im.column is not None}
        named |= {str(c) for im in s.items for c in im.concat} | {str(sp.column) for sp in s.splits}
        named |= {f.column for f in s.unmapped_columns}
        declared.setdefault(s.table, set()).update(named)
    for r in scope:
        for c in r.conditions:
            if c.column and c.item not in declared.get(r.table, set()):
                problems.append(tr("{where}:scope rule {name}: column {item!r} is not a column the sources of "
                                   "table {table} name (items, split, unmapped_columns)",
                                   where=where, name=r.name, item=c.item, table=r.table))
    if layout is None:
        return None
    th = m.thresholds
    thresholds = Thresholds(max_reject_rate=th.max_reject_rate, max_rejects=th.max_rejects,
                            max_alert_rate=th.max_alert_rate, max_alerts=th.max_alerts,
                            rules=tuple(sorted(th.rules.items())))
    return Mapping(municipality_code=code, municipality_name=m.municipality.name or "", layout=layout,
                   sources=tuple(sources), code_tables=code_tables, thresholds=thresholds, era_codes=era_codes,
                   date_forms=tuple(date_forms), outside_era=m.dates.outside_era, gaiji=gaiji,
                   vendor=m.vendor or "", dedup=dedup, path=where, sha256=sha, lookups=lookups,
                   overrides=tuple(overrides), scope=scope)


def check_date_forms(forms: list[str] | None, where: str, problems: list[str]) -> tuple[str, ...] | None:
    if forms is None:
        return None
    if "yyyymmdd" in forms and "wareki_numeric8" in forms:
        problems.append(tr("{where}: yyyymmdd and wareki_numeric8 are both eight digits: accept only one of "
                           "them",
                           where=where))
    return tuple(forms)


def _dedup(d: DedupFile, path: Path, layout: Layout | None, problems: list[str]) -> DedupSettings:
    where = f"{path}:dedup"
    if not 0 < d.review <= d.auto_merge <= 1:
        problems.append(tr("{where}: need 0 < review ({review}) <= auto_merge ({auto_merge}) <= 1 (match "
                           "probabilities)",
                           where=where, review=d.review, auto_merge=d.auto_merge))
    if d.method == "probabilistic" and layout is not None and all(t.matching is None for t in layout.tables.values()):
        problems.append(tr("{where}.method: layout {id} names no matching roles (tables.*.matching)",
                           where=where, id=layout.id))
    decisions = (path.parent / d.decisions) if d.decisions else None
    outside = outside_problem(decisions, path, "dedup.decisions") if decisions is not None else None
    if outside:
        problems.append(outside)
    return DedupSettings(method=d.method, auto_merge=d.auto_merge, review=d.review,
                         decisions=decisions, backend=d.backend,
                         max_pairs_u=float(d.training.max_pairs_u), max_pairs_em=float(d.training.max_pairs_em),
                         seed=d.training.seed, memory_limit=d.memory_limit,
                         requires_any=tuple(d.auto_merge_requires.any_of),
                         requires_none=tuple(d.auto_merge_requires.none_of))


def _gaiji(g: GaijiFile, mapping_path: Path, problems: list[str]) -> GaijiTable | None:
    """The 外字 table: a TSV with the columns ``code`` (U+E000, or CP932 user-area bytes such as
    F040), ``unicode`` (code points such as ``845B E0100``), ``mj`` (optional MJ id) and
    ``note``. The path is relative to the mapping."""
    where = f"{mapping_path}:gaiji"
    path = mapping_path.parent / g.table
    outside = outside_problem(path, mapping_path, "gaiji.table")
    if outside:
        problems.append(outside)
        return None
    if not path.is_file():
        problems.append(tr("{where}.table: {table!r} is not a file (paths are relative to the mapping)",
                           where=where, table=g.table))
        return None
    lines = path.read_text(encoding="utf-8").splitlines()
    header = [h.strip() for h in lines[0].split("\t")] if lines else []
    if header[:2] != ["code", "unicode"]:
        problems.append(tr("{path}: the first line must name the columns: code, unicode[, mj, note] "
                           "(tab-separated)",
                           path=path))
        return None
    entries: dict[str, str] = {}
    mj: dict[str, str] = {}
    for n, line in enumerate(lines[1:], start=2):
        if not line.strip() or line.startswith("#"):
            continue
        cells = dict(zip(header, (c.strip() for c in line.split("\t"))))
        try:
            char = _gaiji_code(cells["code"])
            replacement = "".join(chr(int(cp.removeprefix("U+"), 16)) for cp in cells.get("unicode", "").split())
        except (ValueError, UnicodeDecodeError) as exc:
            problems.append(tr("{path}:{n}: {exc}", path=path, n=n, exc=exc))
            continue
        if not replacement:
            problems.append(tr("{path}:{n}: no replacement for {code}", path=path, n=n, code=cells['code']))
        elif char in entries:
            problems.append(tr("{path}:{n}: {code} is listed twice", path=path, n=n, code=cells['code']))
        elif any(PRIVATE_USE[0] <= ord(ch) <= PRIVATE_USE[1] for ch in replacement):
            problems.append(tr("{path}:{n}: the replacement of {code} is itself a private-use character",
                               path=path, n=n, code=cells['code']))
        else:
            entries[char] = replacement
            if cells.get("mj"):
                mj[char] = cells["mj"]
    return GaijiTable(path=str(path), version=str(g.version), entries=entries, mj=mj, unmapped=g.unmapped)


def _gaiji_code(code: str) -> str:
    """U+E000 -> the character; F040 (CP932 user-area bytes) -> the character it decodes to."""
    if code.upper().startswith("U+"):
        char = chr(int(code[2:], 16))
    else:
        char = bytes.fromhex(code).decode("cp932")
    if len(char) != 1 or not PRIVATE_USE[0] <= ord(char) <= PRIVATE_USE[1]:
        raise ValueError(f"{code} is not a private-use (外字) character")
    return char


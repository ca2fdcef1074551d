"""Standard layouts (標準レイアウト) loaded from data files in ``ikou/schemas/``.

A layout file lists each item's stable English id, official Japanese name, type, length,
required flag, code table, cleansing profile and checks with their level: ``error`` rejects the
record, ``alert`` lands it and reports. Everything downstream (cleansing, the pandera schema,
landed columns) is derived from it. The file's shape is the typed model of
``ikou.config.layout_file``; this module checks what the model cannot (items that exist, code
tables that are defined) and builds the frozen runtime layout. See docs/layouts.md.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from ikou.config.base import did_you_mean, load_yaml, validate_file
from ikou.config.layout_file import ItemFile, LayoutFile, TableFile
from ikou.errors import IkouError
from ikou.i18n import tr
from ikou.layout_checks import Check, build_check
from ikou.reasons import catalog, is_known

# money: exact integer yen (金額), summed per item in the reconciliation report
# float: an IEEE double, for values a COBOL program kept as COMP-1 / COMP-2 (never money)
ITEM_TYPES = {"string": pl.String, "integer": pl.Int64, "money": pl.Int64, "date": pl.Date, "decimal": None,
              "float": pl.Float64}
TEXT_PROFILES = {"name", "kana", "text"}  # profiles whose values may hold 外字
DATE_STATUSES = ("unknown", "impossible", "outside_era", "invalid")  # <date>_status when not a plain date


@dataclass(frozen=True)
class Item:
    id: str
    name_ja: str
    type: str
    length: int | None = None
    width: int | None = None  # the standard's width where a source gives one: exceeding it is an alert
    profile: str = "text"
    required: bool = False
    level: str = "error"
    code_table: str | None = None
    checks: tuple[Check, ...] = ()
    sensitive: bool = False
    precision: int | None = None
    scale: int | None = None
    unknown_flag: str | None = None  # date items: the item holding the standard's _不詳フラグ
    unknown_text: str | None = None  # date items: the item holding the standard's _不詳表記
    code_system: str | None = None
    length_level: str | None = None  # too_long's level when a mapping moved it (default: the item's)
    width_level: str = "alert"  # exceeds_width's level (a mapping may move it)
    group: str | None = None
    provenance: str | None = None
    sources: tuple[str, ...] = ()
    note: str | None = None

    @property
    def is_date(self) -> bool:
        return self.type == "date"

    @property
    def is_integer(self) -> bool:
        return self.type in ("integer", "money")

    @property
    def is_decimal(self) -> bool:
        return self.type == "decimal"

    @property
    def is_float(self) -> bool:
        return self.type == "float"

    @property
    def dtype(self) -> Any:
        if self.is_decimal:
            return pl.Decimal(self.precision, self.scale)
        return ITEM_TYPES[self.type]

    def columns(self) -> list[tuple[str, Any]]:
        """Landed columns: a date item also lands its status (null for a plain date; unknown,
        impossible, outside_era, invalid) and its original text whenever it is not a plain date."""
        if self.is_date:
            return [(self.id, pl.Date), (f"{self.id}_status", pl.String), (f"{self.id}_text", pl.String)]
        return [(self.id, self.dtype)]


@dataclass(frozen=True)
class CodeTable:
    id: str
    name_ja: str
    codes: dict[str, str]
    provisional: bool = False
    note: str = ""
    status: str = "enforced"  # enforced | examples | legacy
    forbidden: dict[str, str] = field(default_factory=dict)  # code -> why the standard does not allow it
    unconfirmed: dict[str, str] = field(default_factory=dict)
    sources: tuple[str, ...] = ()
    code_notes: dict[str, str] = field(default_factory=dict)

    @property
    def enforced(self) -> bool:
        return self.status == "enforced"

    @property
    def allowed(self) -> list[str]:
        """The codes a value may hold (forbidden ones excluded)."""
        return [c for c in self.codes if c not in self.forbidden]


@dataclass(frozen=True)
class History:
    """A person's records (個人履歴): ``version`` orders them, the highest is the latest."""
    person: str
    version: tuple[str, ...]
    latest_flag: str | None = None


@dataclass(frozen=True)
class HouseholdRule:
    household: str
    person: str
    version: tuple[str, ...]
    relationship: str
    head_codes: tuple[str, ...]
    active_when: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class MatchingRoles:
    """Which items identify a person for duplicate detection (名寄せ), by role. ``person`` and
    ``version``: the records of one person (history versions) share ``person``; the latest
    ``version`` represents them. ``address``: items joined into one address (town, 番地).
    ``household``: compared together with address and phone as one "contact" comparison (a
    shared 世帯 mostly means family, and the trained model learns so). Roles left out are not
    compared."""
    person: str
    version: tuple[str, ...]
    name: str
    reading: str | None = None
    birth_date: str | None = None
    sex: str | None = None
    address: tuple[str, ...] = ()
    phone: str | None = None
    household: str | None = None
    former_surname: str | None = None  # 旧氏: a registration under the maiden name matches 旧氏 + 名
    former_surname_reading: str | None = None
    other_names: tuple[str, ...] = ()  # 通称, ローマ字氏名: a registration under one of them matches
    other_readings: tuple[str, ...] = ()
    identifier: str | None = None  # kept across registrations (住民票コード): evidence for or against, never a comparison
    family_register: tuple[str, ...] = ()  # 本籍 + 筆頭者: the 戸籍, one key (a comparison and a corroboration)
    show: tuple[str, ...] = ()  # further items shown side by side in the review queue

    @property
    def items(self) -> list[str]:
        single = [self.person, *self.version, self.name, self.reading, self.birth_date, self.sex, self.phone,
                  self.household, self.identifier, self.former_surname, self.former_surname_reading]
        return list(dict.fromkeys([x for x in single if x] + list(self.address) + list(self.family_register)
                                  + list(self.other_names) + list(self.other_readings) + list(self.show)))


@dataclass(frozen=True)
class Reference:
    """Items that must name a record landed in another layout's table for the same municipality
    (e.g. a taxpayer's 宛名番号 in the resident data). A record naming none is a finding with
    ``code`` at ``level``: rejected (error) or landed and reported (alert)."""
    items: tuple[str, ...]
    layout: str
    table: str
    to: tuple[str, ...]
    level: str = "error"
    code: str = "unknown_reference"


@dataclass(frozen=True)
class Table:
    id: str
    name_ja: str
    items: tuple[Item, ...]
    duplicate_keys: tuple[tuple[str, ...], ...] = ()
    row_key: tuple[str, ...] = ()
    household: HouseholdRule | None = None
    date_order: tuple[tuple[str, str], ...] = ()
    matching: MatchingRoles | None = None
    references: tuple[Reference, ...] = ()
    money_totals_by: tuple[str, ...] = ()  # 金額照合: money items summed per these items
    history: History | None = None
    optional_key_items: tuple[str, ...] = ()  # key items whose empty value matches another empty one

    @property
    def money_items(self) -> list[str]:
        return [it.id for it in self.items if it.type == "money"]

    def item(self, item_id: str) -> Item:
        for it in self.items:
            if it.id == item_id:
                return it
        raise KeyError(item_id)

    @property
    def item_ids(self) -> list[str]:
        return [it.id for it in self.items]

    def schema(self) -> dict[str, Any]:
        """The landed columns in layout order, with polars dtypes."""
        return {name: dtype for it in self.items for name, dtype in it.columns()}


@dataclass(frozen=True)
class Layout:
    id: str
    name_ja: str
    version: str
    code_tables: dict[str, CodeTable]
    tables: dict[str, Table]
    path: str = field(default="", compare=False)
    sha256: str = field(default="", compare=False)  # of the layout file's bytes
    text: str = field(default="", compare=False, repr=False)  # the file as read (kept with each run)
    generated: dict[str, str] = field(default_factory=dict, compare=False)

    def table(self, table_id: str) -> Table:
        return self.tables[table_id]


def available_layouts() -> list[str]:
    root = resources.files("ikou.schemas")
    # resident.overlay.yaml is the hand-written input of resident.yaml (scripts/build_resident_layout.py)
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".yaml") and ".overlay." not in p.name)


def load_layout(name_or_path: str | Path, base: Path | None = None) -> Layout:
    """Load a bundled layout by name (``resident``) or a layout file by path; a relative path
    is resolved from ``base`` (the folder of the mapping that names it), else from the current
    folder."""
    text, where = _layout_text(str(name_or_path), base)
    return parse_layout(text, where)


def _layout_text(name_or_path: str, base: Path | None) -> tuple[str, str]:
    path = Path(name_or_path)
    if path.suffix in {".yaml", ".yml"} or "/" in name_or_path or "\\" in name_or_path:
        if not path.is_absolute() and base is not None:
            path = base / path
        if not path.is_file():
            raise IkouError(tr("layout file {path} does not exist", path=path),
                            hint=tr("a relative layout path is read from the mapping file's folder; bundled "
                                    "layouts are named without a path: {values}",
                                    values=', '.join(available_layouts())))
        try:
            return path.read_text(encoding="utf-8"), str(path)
        except UnicodeDecodeError as exc:
            raise IkouError(tr("layout {path} is not UTF-8 (byte offset {start})", path=path, start=exc.start)) from exc
    res = resources.files("ikou.schemas") / f"{name_or_path}.yaml"
    if not res.is_file():
        raise IkouError(tr("unknown layout {name_or_path!r}{did_you_mean_name_or_path}", name_or_path=name_or_path,
                           did_you_mean_name_or_path=did_you_mean(name_or_path, available_layouts())),
                        hint=tr("bundled layouts: {values}; a layout file is named by its path (ending in .yaml)",
                                values=", ".join(available_layouts())))
    return res.read_text(encoding="utf-8"), f"ikou/schemas/{name_or_path}.yaml"


@functools.lru_cache(maxsize=16)
def parse_layout(text: str, where: str) -> Layout:
    """A layout from its YAML text; every problem is reported at once. Layouts are immutable, so
    one read of the same text serves a whole run (mapping, run, report)."""
    try:
        raw = load_yaml(text)
    except yaml.YAMLError as exc:
        raise IkouError(tr("layout {where} is not valid YAML: {exc}", where=where, exc=exc)) from exc
    problems: list[str] = []
    model = validate_file(LayoutFile, raw, where, problems)
    layout = _build_layout(model, where, problems, text) if model is not None else None
    if problems or layout is None:
        raise IkouError(tr("layout {where} has {count} problem(s)", where=where, count=len(problems)), problems=problems,
                        hint=tr("see docs/layouts.md for every key"))
    return layout


def _build_layout(m: LayoutFile, where: str, problems: list[str], text: str) -> Layout:
    code_tables: dict[str, CodeTable] = {}
    for ct_id, ct in m.code_tables.items():
        for code in list(ct.forbidden) + list(ct.unconfirmed):
            if code not in ct.codes:
                problems.append(tr("{where}:code_tables.{ct_id}: {code!r} is marked but is not one of its codes",
                                   where=where, ct_id=ct_id, code=code))
        code_tables[ct_id] = CodeTable(
            id=ct_id, name_ja=ct.name_ja or ct_id, codes=dict(ct.codes), provisional=ct.provisional,
            note=ct.note or "", status=ct.status, forbidden=dict(ct.forbidden), unconfirmed=dict(ct.unconfirmed),
            sources=tuple(ct.sources), code_notes=dict(ct.code_notes))
    tables = {t_id: _build_table(t_id, t, f"{where}:tables.{t_id}", code_tables, problems)
              for t_id, t in m.tables.items()}
    return Layout(id=m.layout, name_ja=m.name_ja or "", version="" if m.version is None else str(m.version),
                  code_tables=code_tables, tables=tables, path=where,
                  sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(), text=text, generated=dict(m.generated))


def _build_table(t_id: str, t: TableFile, where: str, code_tables: dict[str, CodeTable],
                 problems: list[str]) -> Table:
    items = [_build_item(it, f"{where}.items[{i}]({it.id})", code_tables, problems) for i, it in enumerate(t.items)]
    ids = [it.id for it in items]
    if items and "municipality_code" not in ids:
        problems.append(tr("{where}: every table needs an item 'municipality_code' (the landed partition key)",
                           where=where))
    for dup in sorted({i for i in ids if ids.count(i) > 1}):
        problems.append(tr("{where}: item id {dup!r} appears more than once", where=where, dup=dup))
    by_id = {it.id: it for it in items}

    def known(names: Any, what: str) -> tuple[str, ...]:
        names = tuple(names or ())
        for n in names:
            if n not in by_id:
                problems.append(tr("{where}.{what}: unknown item {n!r}{did_you_mean_n}",
                                   where=where, what=what, n=n, did_you_mean_n=did_you_mean(n, by_id)))
        return names

    for it in items:
        for role, target in (("unknown_flag", it.unknown_flag), ("unknown_text", it.unknown_text)):
            if target is not None:
                if not it.is_date:
                    problems.append(tr("{where}: item {id}: {role} applies to date items only",
                                       where=where, id=it.id, role=role))
                known([target], f"items({it.id}).{role}")
    history = None
    if t.history is not None:
        history = History(person=known([t.history.person], "history.person")[0],
                          version=known(t.history.version, "history.version"),
                          latest_flag=t.history.latest_flag)
        if t.history.latest_flag:
            known([t.history.latest_flag], "history.latest_flag")

    def versions(value: str | list[str] | None, what: str) -> tuple[str, ...]:
        if value is None:
            if history is None:
                problems.append(tr("{where}.{what}: give version (or a table history)", where=where, what=what))
                return ()
            return history.version
        return known([value] if isinstance(value, str) else value, what)

    def person(value: str | None, what: str) -> str:
        if value is None:
            if history is None:
                problems.append(tr("{where}.{what}: give person (or a table history)", where=where, what=what))
                return ""
            return history.person
        return known([value], what)[0]

    dup_keys = tuple(known(k, "duplicate_keys") for k in t.duplicate_keys)
    optional = known(t.optional_key_items, "optional_key_items")
    row_key = known(t.row_key, "row_key")
    date_order = tuple(known(p, "date_order") for p in t.date_order)
    for pair in date_order:
        if len(pair) != 2 or any(n in by_id and not by_id[n].is_date for n in pair):
            problems.append(tr("{where}.date_order: {list_pair} must be two date items", where=where, list_pair=list(pair)))
    household = None
    if t.household is not None:
        h = t.household
        known([h.household, h.relationship, *h.active_when], "household")
        household = HouseholdRule(household=h.household, person=person(h.person, "household.person"),
                                  version=versions(h.version, "household.version"), relationship=h.relationship,
                                  head_codes=tuple(h.head_codes), active_when=tuple(h.active_when.items()))
    matching = None
    if t.matching is not None:
        mt = t.matching
        roles = {k: getattr(mt, k) for k in ("name", "reading", "birth_date", "sex", "phone", "household", "identifier",
                                             "former_surname", "former_surname_reading")}
        known([v for v in roles.values() if v] + mt.address + mt.family_register + mt.show + mt.other_names
              + mt.other_readings, "matching")
        if roles["birth_date"] in by_id and not by_id[roles["birth_date"]].is_date:
            problems.append(tr("{where}.matching.birth_date: {birth_date!r} is not a date item",
                               where=where, birth_date=roles['birth_date']))
        matching = MatchingRoles(person=person(mt.person, "matching.person"),
                                 version=versions(mt.version, "matching.version"), **roles,
                                 address=tuple(mt.address), family_register=tuple(mt.family_register),
                                 show=tuple(mt.show), other_names=tuple(mt.other_names),
                                 other_readings=tuple(mt.other_readings))
    references = []
    for j, ref in enumerate(t.references):
        if len(ref.items) != len(ref.to):
            problems.append(tr("{where}.references[{j}]: items and to must name as many items", where=where, j=j))
        if not is_known(ref.code):
            problems.append(tr("{where}.references[{j}].code: {code!r} is not a reason code of "
                               "ikou/catalog/reasons.yaml{did_you_mean_code} (add it there, with its messages, "
                               "or use unknown_reference)", where=where, j=j, code=ref.code, did_you_mean_code=did_you_mean(ref.code, catalog())))
        references.append(Reference(items=known(ref.items, f"references[{j}].items"), layout=ref.layout,
                                    table=ref.table, to=tuple(ref.to), level=ref.level, code=ref.code))
    money_totals_by = known(t.money_totals_by, "money_totals_by")
    return Table(id=t_id, name_ja=t.name_ja or t_id, items=tuple(items), duplicate_keys=dup_keys, row_key=row_key,
                 household=household, date_order=date_order, matching=matching, references=tuple(references),
                 money_totals_by=money_totals_by, history=history, optional_key_items=optional)


def _build_item(it: ItemFile, where: str, code_tables: dict[str, CodeTable], problems: list[str]) -> Item:
    default_profile = {"date": "none", "decimal": "decimal", "float": "decimal", "money": "money",
                       "integer": "digits"}.get(it.type, "text")
    if it.code_table is not None and it.code_table not in code_tables:
        problems.append(tr("{where}: code table {code_table!r} is not defined in code_tables{did_you_mean_code_table}",
                           where=where, code_table=it.code_table,
                           did_you_mean_code_table=did_you_mean(it.code_table, code_tables)))
    elif it.code_table is not None and code_tables[it.code_table].status == "legacy":
        problems.append(tr("{where}: code table {code_table!r} is a legacy coding: an item holds standard codes",
                           where=where, code_table=it.code_table))
    if it.type == "decimal":
        if it.precision is None or it.scale is None or it.scale > it.precision:
            problems.append(tr("{where}: a decimal item needs precision and scale (digits in all, digits after "
                               "the point), scale <= precision", where=where))
    elif it.precision is not None or it.scale is not None:
        problems.append(tr("{where}: precision and scale apply to decimal items only", where=where))
    for key in ("length", "width"):
        if getattr(it, key) is not None and it.type != "string":
            problems.append(tr("{where}: {key} applies to string items (a {type} item has none)",
                               where=where, key=key, type=it.type))
    checks = [build_check(c, it, f"{where}.checks[{j}]", problems) for j, c in enumerate(it.checks)]
    return Item(id=it.id, name_ja=it.name_ja, type=it.type, length=it.length, width=it.width, profile=it.profile or default_profile,
                required=it.required, level=it.level, code_table=it.code_table,
                checks=tuple(c for c in checks if c is not None), sensitive=it.sensitive, precision=it.precision,
                scale=it.scale, unknown_flag=it.unknown_flag, unknown_text=it.unknown_text,
                code_system=it.code_system, group=it.group, provenance=it.provenance, sources=tuple(it.sources),
                note=it.note)

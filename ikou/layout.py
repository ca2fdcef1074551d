"""Standard layouts (標準レイアウト) loaded from data files in ``ikou/schemas/``.

A layout file lists each item's stable English id, official Japanese name, type, length,
required flag, code table, cleansing profile and checks with their level: ``error`` rejects the
record, ``alert`` lands it and reports. Everything downstream (cleansing, the pandera schema,
landed columns) is derived from it. See docs/layouts.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from ikou.errors import IkouError

# money: exact integer yen (金額), summed per item in the reconciliation report
ITEM_TYPES = {"string": pl.String, "integer": pl.Int64, "money": pl.Int64, "date": pl.Date}
PROFILES = {"none", "text", "name", "kana", "digits", "code", "postal_code", "address", "phone", "money"}
LEVELS = {"error", "alert"}
CHECK_DIGITS = {"lg_code", "resident_code", "individual_number", "modulus11"}


@dataclass(frozen=True)
class Check:
    kind: str  # "pattern" | "range" ("min,max") | "check_digit"
    arg: str
    level: str


@dataclass(frozen=True)
class Item:
    id: str
    name_ja: str
    type: str
    length: int | None = None
    profile: str = "text"
    required: bool = False
    level: str = "error"
    code_table: str | None = None
    checks: tuple[Check, ...] = ()
    sensitive: bool = False

    @property
    def is_date(self) -> bool:
        return self.type == "date"

    @property
    def is_integer(self) -> bool:
        return self.type in ("integer", "money")

    def columns(self) -> list[tuple[str, Any]]:
        """Landed columns: a date item also lands its 不詳 flag and its original text."""
        if self.is_date:
            return [(self.id, pl.Date), (f"{self.id}_unknown", pl.Boolean), (f"{self.id}_text", pl.String)]
        return [(self.id, ITEM_TYPES[self.type])]


@dataclass(frozen=True)
class CodeTable:
    id: str
    name_ja: str
    codes: dict[str, str]
    provisional: bool = False
    note: str = ""


@dataclass(frozen=True)
class HouseholdRule:
    household: str
    person: str
    version: str
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
    version: str | None
    name: str
    reading: str | None = None
    birth_date: str | None = None
    sex: str | None = None
    address: tuple[str, ...] = ()
    phone: str | None = None
    household: str | None = None
    show: tuple[str, ...] = ()  # further items shown side by side in the review queue

    @property
    def items(self) -> list[str]:
        single = [self.person, self.version, self.name, self.reading, self.birth_date, self.sex, self.phone,
                  self.household]
        return list(dict.fromkeys([x for x in single if x] + list(self.address) + list(self.show)))


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

    def table(self, table_id: str) -> Table:
        return self.tables[table_id]


def available_layouts() -> list[str]:
    root = resources.files("ikou.schemas")
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".yaml"))


def load_layout(name_or_path: str) -> Layout:
    """Load a bundled layout by name (``resident``) or a layout file by path."""
    path = Path(name_or_path)
    if path.suffix in {".yaml", ".yml"} and path.exists():
        text, where = path.read_text(encoding="utf-8"), str(path)
    else:
        res = resources.files("ikou.schemas") / f"{name_or_path}.yaml"
        if not res.is_file():
            raise IkouError(f"unknown layout {name_or_path!r}",
                            hint=f"bundled layouts: {', '.join(available_layouts())}")
        text, where = res.read_text(encoding="utf-8"), f"ikou/schemas/{name_or_path}.yaml"
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise IkouError(f"layout {where} is not valid YAML: {exc}") from exc
    problems: list[str] = []
    layout = _parse_layout(raw, where, problems)
    if problems:
        raise IkouError(f"layout {where} has {len(problems)} problem(s)", problems=problems)
    return layout


class _Reader:
    """Reads a YAML mapping, recording unknown keys and wrong types as problems."""

    def __init__(self, data: Any, where: str, problems: list[str], allowed: set[str]):
        self.where, self.problems = where, problems
        if not isinstance(data, dict):
            problems.append(f"{where}: expected a mapping, got {type(data).__name__}")
            data = {}
        self.data = data
        for key in data:
            if key not in allowed:
                problems.append(f"{where}: unknown key {key!r} (allowed: {', '.join(sorted(allowed))})")

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = None, required: bool = False) -> Any:
        if key not in self.data or self.data[key] is None:
            if required:
                self.problems.append(f"{self.where}: missing required key {key!r}")
            return default
        value = self.data[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            self.problems.append(f"{self.where}.{key}: expected {names}, got {value!r}")
            return default
        return value


def _parse_layout(raw: Any, where: str, problems: list[str]) -> Layout:
    r = _Reader(raw, where, problems, {"layout", "name_ja", "version", "code_tables", "tables"})
    code_tables: dict[str, CodeTable] = {}
    for ct_id, ct_raw in (r.get("code_tables", dict, {}) or {}).items():
        cr = _Reader(ct_raw, f"{where}:code_tables.{ct_id}", problems,
                     {"name_ja", "codes", "provisional", "note"})
        codes = cr.get("codes", dict, {}, required=True)
        code_tables[ct_id] = CodeTable(
            id=ct_id, name_ja=cr.get("name_ja", str, ct_id),
            codes={str(k): str(v) for k, v in codes.items()},
            provisional=cr.get("provisional", bool, False), note=cr.get("note", str, ""))
    tables: dict[str, Table] = {}
    for t_id, t_raw in (r.get("tables", dict, {}, required=True) or {}).items():
        tables[t_id] = _parse_table(t_id, t_raw, f"{where}:tables.{t_id}", code_tables, problems)
    return Layout(id=r.get("layout", str, "", required=True), name_ja=r.get("name_ja", str, ""),
                  version=str(r.get("version", (str, int, float), "")), code_tables=code_tables,
                  tables=tables, path=where)


def _parse_table(t_id: str, raw: Any, where: str, code_tables: dict[str, CodeTable],
                 problems: list[str]) -> Table:
    r = _Reader(raw, where, problems,
                {"name_ja", "items", "duplicate_keys", "row_key", "household", "date_order", "matching",
                 "references", "money_totals_by"})
    items: list[Item] = []
    for i, it_raw in enumerate(r.get("items", list, [], required=True)):
        items.append(_parse_item(it_raw, f"{where}.items[{i}]", code_tables, problems))
    ids = [it.id for it in items]
    if items and "municipality_code" not in ids:
        problems.append(f"{where}: every table needs an item 'municipality_code' (the landed partition key)")
    for dup in {i for i in ids if ids.count(i) > 1}:
        problems.append(f"{where}: item id {dup!r} appears more than once")
    by_id = {it.id: it for it in items}

    def known(names: Any, what: str) -> tuple[str, ...]:
        names = tuple(names or ())
        for n in names:
            if n not in by_id:
                problems.append(f"{where}.{what}: unknown item {n!r}")
        return names

    dup_keys = tuple(known(k, "duplicate_keys") for k in r.get("duplicate_keys", list, []))
    row_key = known(r.get("row_key", list, []), "row_key")
    date_order = tuple(tuple(known(p, "date_order")) for p in r.get("date_order", list, []))
    for pair in date_order:
        if len(pair) != 2 or any(n in by_id and not by_id[n].is_date for n in pair):
            problems.append(f"{where}.date_order: {list(pair)} must be two date items")
    household = None
    hh_raw = r.get("household", dict)
    if hh_raw is not None:
        hr = _Reader(hh_raw, f"{where}.household", problems,
                     {"household", "person", "version", "relationship", "head_codes", "active_when"})
        fields = {k: hr.get(k, str, "", required=True)
                  for k in ("household", "person", "version", "relationship")}
        known(fields.values(), "household")
        active = hr.get("active_when", dict, {})
        known(active.keys(), "household.active_when")
        household = HouseholdRule(**fields, head_codes=tuple(str(c) for c in hr.get("head_codes", list, [])),
                                  active_when=tuple((k, str(v)) for k, v in active.items()))
    matching = None
    m_raw = r.get("matching", dict)
    if m_raw is not None:
        mr = _Reader(m_raw, f"{where}.matching", problems, {"person", "version", "name", "reading", "birth_date",
                                                            "sex", "address", "phone", "household", "show"})
        roles = {k: mr.get(k, str, "", required=True) for k in ("person", "name")}
        roles |= {k: mr.get(k, str) for k in ("version", "reading", "birth_date", "sex", "phone", "household")}
        address = tuple(str(a) for a in mr.get("address", list, []))
        show = tuple(str(a) for a in mr.get("show", list, []))
        known([v for v in roles.values() if v] + list(address) + list(show), "matching")
        if roles.get("birth_date") in by_id and not by_id[roles["birth_date"]].is_date:
            problems.append(f"{where}.matching.birth_date: {roles['birth_date']!r} is not a date item")
        matching = MatchingRoles(**roles, address=address, show=show)
    references = []
    for j, ref_raw in enumerate(r.get("references", list, [])):
        rr = _Reader(ref_raw, f"{where}.references[{j}]", problems, {"items", "layout", "table", "to", "level", "code"})
        ref = Reference(items=known(rr.get("items", list, [], required=True), f"references[{j}].items"),
                        layout=rr.get("layout", str, "", required=True), table=rr.get("table", str, "", required=True),
                        to=tuple(str(x) for x in rr.get("to", list, [], required=True)),
                        level=rr.get("level", str, "error"), code=rr.get("code", str, "unknown_reference"))
        if len(ref.items) != len(ref.to) or not ref.items:
            problems.append(f"{where}.references[{j}]: items and to must name as many items, at least one")
        if ref.level not in LEVELS:
            problems.append(f"{where}.references[{j}]: level {ref.level!r} is not one of {sorted(LEVELS)}")
        references.append(ref)
    money_totals_by = known(r.get("money_totals_by", list, []), "money_totals_by")
    return Table(id=t_id, name_ja=r.get("name_ja", str, t_id), items=tuple(items),
                 duplicate_keys=dup_keys, row_key=row_key, household=household, date_order=date_order,
                 matching=matching, references=tuple(references), money_totals_by=money_totals_by)


def _parse_item(raw: Any, where: str, code_tables: dict[str, CodeTable], problems: list[str]) -> Item:
    r = _Reader(raw, where, problems, {"id", "name_ja", "type", "length", "profile", "required",
                                       "level", "code_table", "checks", "sensitive", "note"})
    item_id = r.get("id", str, "?", required=True)
    where = f"{where}({item_id})"
    item_type = r.get("type", str, "string")
    if item_type not in ITEM_TYPES:
        problems.append(f"{where}: type {item_type!r} is not one of {sorted(ITEM_TYPES)}")
    profile = r.get("profile", str, "none" if item_type == "date" else "text")
    if profile not in PROFILES:
        problems.append(f"{where}: profile {profile!r} is not one of {sorted(PROFILES)}")
    level = r.get("level", str, "error")
    if level not in LEVELS:
        problems.append(f"{where}: level {level!r} is not one of {sorted(LEVELS)}")
    code_table = r.get("code_table", str)
    if code_table is not None and code_table not in code_tables:
        problems.append(f"{where}: code table {code_table!r} is not defined in code_tables")
    checks: list[Check] = []
    for j, c_raw in enumerate(r.get("checks", list, [])):
        cr = _Reader(c_raw, f"{where}.checks[{j}]", problems, {"pattern", "check_digit", "range", "level"})
        c_level = cr.get("level", str, level)
        if c_level not in LEVELS:
            problems.append(f"{where}.checks[{j}]: level {c_level!r} is not one of {sorted(LEVELS)}")
        if "pattern" in cr.data:
            if item_type != "string":
                problems.append(f"{where}.checks[{j}]: a pattern checks text; for a {item_type} item use "
                                f"range: [min, max]")
            checks.append(Check("pattern", cr.get("pattern", str, ""), c_level))
        elif "range" in cr.data:
            bounds = cr.get("range", list, [])
            if item_type not in ("integer", "money") or len(bounds) != 2 or not all(
                    isinstance(b, int) and not isinstance(b, bool) for b in bounds) or bounds[0] > bounds[1]:
                problems.append(f"{where}.checks[{j}]: range needs an integer or money item and [min, max] "
                                f"with whole numbers, min <= max")
            else:
                checks.append(Check("range", f"{bounds[0]},{bounds[1]}", c_level))
        elif "check_digit" in cr.data:
            kind = cr.get("check_digit", str, "")
            if kind not in CHECK_DIGITS:
                problems.append(f"{where}.checks[{j}]: check_digit {kind!r} is not one of {sorted(CHECK_DIGITS)}")
            checks.append(Check("check_digit", kind, c_level))
        else:
            problems.append(f"{where}.checks[{j}]: a check needs 'pattern', 'range' or 'check_digit'")
    return Item(id=item_id, name_ja=r.get("name_ja", str, "", required=True), type=item_type,
                length=r.get("length", int), profile=profile, required=r.get("required", bool, False),
                level=level, code_table=code_table, checks=tuple(checks),
                sensitive=r.get("sensitive", bool, False))

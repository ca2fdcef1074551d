"""The migration's scope (移行対象の範囲): the mapping's ``scope:`` rules name the records that are
not carried to the new system (消除者 removed long ago, history older than a date, 住登外者 …).

Such a record gets the fifth fate, ``excluded``, with the first rule (in file order) it matches;
it is kept in the run table ``excluded`` with its raw record, and counted everywhere records
are counted: source = landed + rejected + merged + excluded.

A rule is a list of conditions, all of which must hold, on a record's standard-layout values
(after code tables and date reading) or on the export's own columns as exported (a vendor's code
no standard code represents, e.g. its 住民状態 for 住登外者). A condition on a value the record
does not have is false: records are excluded on evidence only. Scope is decided per chunk, right
after the row stages and before the row rules' verdict counts: a record a scope rule names is
excluded even when a row rule would reject it (an unmapped vendor code, a bad check digit of a
record that is not migrated), and an excluded record takes no part in the set-level rules (it is
never a merge survivor or a household's member).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from ikou.i18n import tr

SCOPE_RULE = "_scope_rule"  # the matched rule's name, in the resolve phase's frames
OPERATORS = ("in", "not_in", "before", "on_or_after", "empty")


@dataclass(frozen=True)
class Condition:
    item: str  # a standard item id, or the export's column name (``column``)
    op: str  # one of OPERATORS
    values: tuple[str, ...] = ()  # in / not_in: standard codes (or values)
    date: dt.date | None = None  # before / on_or_after
    empty: bool | None = None  # empty: true (no value) / false (a value)
    column: bool = False  # a condition on the export's own column (its text as exported)

    @property
    def source(self) -> str:
        """The column of the chunk frame the condition reads (the raw text of an export column
        is carried as ``__scope_column:<name>``)."""
        return f"__scope_column:{self.item}" if self.column else self.item

    def expr(self) -> pl.Expr:
        col = pl.col(self.source)
        if self.column:
            col = pl.when(col.str.strip_chars() != "").then(col)  # blank text is no value
        if self.op == "in":
            e = col.cast(pl.String).is_in(list(self.values))
        elif self.op == "not_in":
            e = col.is_not_null() & ~col.cast(pl.String).is_in(list(self.values))
        elif self.op == "before":
            e = col < pl.lit(self.date)
        elif self.op == "on_or_after":
            e = col >= pl.lit(self.date)
        else:
            e = col.is_null() if self.empty else col.is_not_null()
        return e.fill_null(False)

    def describe(self, names: dict[str, str] | None = None) -> str:
        """The condition as text; ``names``: item id -> its Japanese name, shown before the id."""
        ja = None if self.column else (names or {}).get(self.item)
        item = f"column {self.item}" if self.column else (f"{ja}({self.item})" if ja else self.item)
        if self.op in ("in", "not_in"):
            return f"{item} {self.op.replace('_', ' ')} [{', '.join(self.values)}]"
        if self.op == "empty":
            return f"{item} {'is empty' if self.empty else 'is given'}"
        return f"{item} {self.op.replace('_', ' ')} {self.date.isoformat()}"


@dataclass(frozen=True)
class ScopeRule:
    """One rule of ``scope:``: records of ``table`` for which every condition holds are excluded."""
    name: str
    table: str
    description: str
    conditions: tuple[Condition, ...]

    def expr(self) -> pl.Expr:
        return pl.all_horizontal([c.expr() for c in self.conditions])

    def describe(self, names: dict[str, str] | None = None) -> str:
        return " and ".join(c.describe(names) for c in self.conditions)


def matched_rule(rules: tuple[ScopeRule, ...], table: str, present: set[str]) -> pl.Expr:
    """The name of the first of ``table``'s rules a record matches (null: in scope). A condition
    on an item or column the frame lacks (another source of the table gives it) does not hold."""
    expr = pl.lit(None, pl.String)
    for rule in reversed([r for r in rules if r.table == table]):
        holds = pl.all_horizontal([c.expr() if c.source in present else pl.lit(False) for c in rule.conditions])
        expr = pl.when(holds).then(pl.lit(rule.name)).otherwise(expr)
    return expr.alias(SCOPE_RULE)


def build_rules(raw: list, layout, where: str, problems: list[str]) -> tuple[ScopeRule, ...]:
    """The file's ``scope:`` entries (config.mapping_file.ScopeRuleFile), checked against the
    layout: the table and items exist, each condition has one operator that suits its item's type,
    and codes are codes of the item's code table. Every problem is collected."""
    rules, names = [], set()
    for i, r in enumerate(raw):
        at = f"{where}:scope[{i}] ({r.name})"
        if r.name in names:
            problems.append(tr("{at}: the rule name {name!r} is used twice", at=at, name=r.name))
        names.add(r.name)
        if layout is None:
            continue
        if r.table not in layout.tables:
            problems.append(tr("{at}.table: {table!r} is not a table of layout {id} ({values})",
                               at=at, table=r.table, id=layout.id, values=', '.join(sorted(layout.tables))))
            continue
        table = layout.tables[r.table]
        conditions = []
        for j, c in enumerate(r.when):
            got = _condition(c, table, layout, f"{at}.when[{j}]", problems)
            if got is not None:
                conditions.append(got)
        if len(conditions) == len(r.when):
            rules.append(ScopeRule(r.name, r.table, r.description, tuple(conditions)))
    return tuple(rules)


def _condition(c, table, layout, at: str, problems: list[str]) -> Condition | None:
    given = [op for op in OPERATORS if _operand(c, op) is not None]
    if len(given) != 1:
        problems.append(tr("{at}: give exactly one of {values} (got {value})",
                           at=at, values=', '.join(OPERATORS), value=', '.join(given) or 'none'))
        return None
    if (c.item is None) == (c.column is None):
        problems.append(tr("{at}: give either item (a standard item) or column (a column of the export)", at=at))
        return None
    if c.column is not None:
        if given[0] in ("before", "on_or_after"):
            problems.append(tr("{at}.{value}: column {column!r} is the export's text: compare dates on a date "
                               "item",
                               at=at, value=given[0], column=c.column))
            return None
        values = tuple(str(v) for v in _operand(c, given[0])) if given[0] in ("in", "not_in") else ()
        return Condition(c.column, given[0], values=values, empty=c.empty, column=True)
    if c.item not in table.item_ids:
        problems.append(tr("{at}.item: {item!r} is not an item of table {id}", at=at, item=c.item, id=table.id))
        return None
    item, op = table.item(c.item), given[0]
    if op in ("before", "on_or_after"):
        if not item.is_date:
            problems.append(tr("{at}.{op}: {item} is not a date item (its type is {type})",
                               at=at, op=op, item=c.item, type=item.type))
            return None
        return Condition(c.item, op, date=_operand(c, op))
    if op == "empty":
        return Condition(c.item, op, empty=c.empty)
    if item.is_date:
        problems.append(tr("{at}.{op}: {item} is a date: compare it with before / on_or_after",
                           at=at, op=op, item=c.item))
        return None
    values = tuple(str(v) for v in _operand(c, op))
    codes = layout.code_tables.get(item.code_table) if item.code_table else None
    unknown = [v for v in values if codes is not None and v not in codes.codes]
    if unknown:
        problems.append(tr("{at}.{op}: {values} not code(s) of the standard code table {code_table} "
                           "({values2}): scope rules compare standard codes, after the mapping's code tables",
                           at=at, op=op, values=', '.join(unknown), code_table=item.code_table,
                           values2=', '.join(sorted(codes.codes))))
        return None
    return Condition(c.item, op, values=values)


def _operand(c, op: str):
    return getattr(c, "in_" if op == "in" else op)  # ``in`` is a Python keyword: the model's field is in_


def unfed_rules(rules: tuple[ScopeRule, ...], fed: dict[str, set[str]]) -> list[str]:
    """Rules over an item no source of the run gives (``fed``: table -> items): the item is empty
    in every record, so the rule would apply never (or, with ``empty: true``, to every record):
    a mistake in the mapping, not a scope."""
    out = []
    for r in rules:
        missing = sorted({c.item for c in r.conditions if not c.column} - fed.get(r.table, set()))
        if missing:
            out.append(f"scope rule {r.name}: {', '.join(missing)} given by no source of table {r.table}: "
                       "the item is empty in every record")
    return out


def scope_columns(rules: tuple[ScopeRule, ...], table: str) -> list[str]:
    """The export columns ``table``'s rules read as exported."""
    return sorted({c.item for r in rules if r.table == table for c in r.conditions if c.column})

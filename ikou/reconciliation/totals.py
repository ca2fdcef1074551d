"""Hash totals (ハッシュトータル) and money sums (金額照合) over a table: one definition, taken by
the reconciliation report on the landed data and by the hand-over export and its verification on
the files themselves (every column read as text), so that the three agree by construction."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from ikou.layout import Table


@dataclass(frozen=True)
class HashTotal:
    """A hash total over one key item of the landed data (ハッシュトータル): records with a value,
    distinct values, and the arithmetic sum of the values written in digits only (an exact
    integer, as a string so that no reader rounds it). Values with another character are counted
    in ``non_digit``, not summed. Compare with the same total taken on the legacy system."""
    table: str
    item: str
    item_ja: str | None
    records: int
    non_null: int
    distinct: int
    digit_sum: str
    non_digit: int


@dataclass(frozen=True)
class MoneySum:
    """The sum in yen of one money item over the landed data (金額照合), exact."""
    table: str
    item: str
    item_ja: str | None
    records: int
    total: str


def key_items(table: Table) -> list[str]:
    """The items a hash total is taken over: the table's keys and its household number, never a
    sensitive item (a sum over 個人番号 is no business of a report)."""
    keys = [i for k in table.duplicate_keys for i in k] + list(table.row_key)
    if table.household:
        keys.append(table.household.household)
    return [k for k in dict.fromkeys(keys) if not table.item(k).sensitive]


def hash_totals(con: duckdb.DuckDBPyConnection, table: Table, source: str, code: str | None, ja: dict,
                columns: dict[str, str] | None = None) -> list[HashTotal]:
    """``source``: a table name or a parenthesised query; ``code``: the municipality to filter on
    (None: every row); ``columns``: item -> its column name in ``source`` (default: every key item
    under its id; given, only the items it names)."""
    out = []
    where, params = ("where municipality_code = ?", [code]) if code is not None else ("", [])
    for item in key_items(table):
        if columns is not None and item not in columns:
            continue  # not in this source (a fixed-width hand-over of some items only)
        column = columns.get(item, item) if columns is not None else item
        text = f'cast("{column}" as varchar)'
        row = con.execute(
            f"select count(*), count({text}), count(distinct {text}), "
            f"coalesce(sum(try_cast({text} as hugeint)) filter (regexp_full_match({text}, '[0-9]+')), 0), "
            f"count(*) filter (not regexp_full_match({text}, '[0-9]+')) "
            f"from {source} {where}", params).fetchall()[0]
        out.append(HashTotal(table.id, item, ja.get(item), row[0], row[1], row[2], str(row[3]), row[4]))
    return out


def money_sums(con: duckdb.DuckDBPyConnection, table: Table, source: str, code: str | None, ja: dict,
               columns: dict[str, str] | None = None) -> list[MoneySum]:
    """The exact sum in yen of every money item of ``table`` over ``source`` (as hash_totals)."""
    out = []
    where, params = ("where municipality_code = ?", [code]) if code is not None else ("", [])
    for item in (it for it in table.items if it.type == "money"):
        if columns is not None and item.id not in columns:
            continue
        column = columns.get(item.id, item.id) if columns is not None else item.id
        row = con.execute(f'select count("{column}"), coalesce(sum(cast("{column}" as hugeint)), 0) '
                          f"from {source} {where}", params).fetchall()[0]
        out.append(MoneySum(table.id, item.id, item.name_ja, row[0], str(row[1])))
    return out

"""An item's checks (pattern, check digit, range) built from its layout entry and checked at
load: a pattern polars cannot run, a range whose bounds are not of the item's type or whose min is
above its max, a check on an item of the wrong type. Used by ``ikou.layout``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from ikou.config.layout_file import CheckFile, ItemFile
from ikou.i18n import tr


@dataclass(frozen=True)
class Check:
    kind: str  # "pattern" | "range" | "check_digit"
    arg: str  # the pattern, the scheme, or "min,max" of a range (as text: exact for decimals and dates)
    level: str

    @property
    def bounds(self) -> tuple[str, str]:
        lo, hi = self.arg.split(",", 1)
        return lo, hi


def pattern_problem(pattern: str) -> str | None:
    """Why polars (Rust regex: no look-around, no back-references) cannot run ``pattern``, found
    at load instead of after extraction."""
    import polars as pl

    try:
        pl.select(pl.lit("").str.contains(pattern)).item()
    except Exception as exc:  # noqa: BLE001 - polars raises several kinds for a bad pattern
        return (tr("{pattern!r} is not a regular expression polars can run ({value}); look-around and "
                   "back-references are not supported",
                   pattern=pattern, value=str(exc).splitlines()[0][:200]))
    return None


def build_check(c: CheckFile, it: ItemFile, where: str, problems: list[str]) -> Check | None:
    level = c.level or it.level
    if c.pattern is not None:
        if it.type != "string":
            problems.append(tr("{where}: a pattern checks text; for a {type} item use range: [min, max]",
                               where=where, type=it.type))
            return None
        unusable = pattern_problem(c.pattern)
        if unusable:
            problems.append(tr("{where}.pattern: {unusable}", where=where, unusable=unusable))
            return None
        return Check("pattern", c.pattern, level)
    if c.check_digit is not None:
        if it.type != "string":
            problems.append(tr("{where}: a check digit checks a number written as text: a {type} item has none",
                               where=where, type=it.type))
            return None
        return Check("check_digit", c.check_digit, level)
    bounds = [range_bound(b, it.type, it.scale) for b in c.range or []]
    if it.type not in ("integer", "money", "decimal", "date"):
        problems.append(tr("{where}: range needs an integer, money, decimal or date item", where=where))
    elif None in bounds:
        kind = {"date": "dates (YYYY-MM-DD)", "decimal": "numbers"}.get(it.type, "whole numbers")
        problems.append(tr("{where}: range bounds {range} must be {kind}", where=where, range=c.range, kind=kind))
    elif _order_key(bounds[0], it.type) > _order_key(bounds[1], it.type):
        problems.append(tr("{where}: range {range}: min is above max", where=where, range=c.range))
    else:
        return Check("range", f"{bounds[0]},{bounds[1]}", level)
    return None


def range_bound(value: Any, item_type: str, scale: int | None = None) -> str | None:
    """A range bound as exact text for the item's type, or None if it is not one."""
    if isinstance(value, bool):
        return None
    if item_type == "date":
        if isinstance(value, dt.date):
            return value.isoformat()
        try:
            return dt.date.fromisoformat(str(value)).isoformat()
        except ValueError:
            return None
    if item_type == "decimal":
        try:
            number = Decimal(str(value))  # str() of a YAML float is its shortest exact text
        except InvalidOperation:
            return None
        return str(number) if number.is_finite() else None
    if isinstance(value, int) or (isinstance(value, str) and value.lstrip("-").isdigit()):
        return str(int(value))
    return None


def _order_key(bound: str, item_type: str) -> Any:
    return bound if item_type == "date" else Decimal(bound)

"""The pandera schema of a layout table, built from the layout file (never written by hand).

pandera on polars checks only the schema of a LazyFrame unless told otherwise, so ikou always
validates collected (eager) batches, where data checks run. Each check carries the reason code
and level it reports under; ``failure_issues`` turns pandera's failure cases into ikou issues.
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass
from decimal import Decimal

with warnings.catch_warnings():
    # pandera imports pyspark.pandas whenever pyspark is installed (the spark extra), which warns
    # about the pandas version on every run; ikou uses neither pandas nor pyspark.pandas here
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
    import pandera.polars as pa
import polars as pl
from pandera.config import ValidationDepth, config_context
from pandera.errors import SchemaErrors

from ikou.layout import Item, Layout, Table
from ikou.layout_checks import Check
from ikou.validators.check_digits import valid_frame


@dataclass(frozen=True)
class CheckTag:
    item: str
    code: str  # reason code: invalid_format, check_digit, invalid_code, too_long, required_missing
    level: str


@dataclass(frozen=True)
class TableSchema:
    schema: pa.DataFrameSchema
    tags: dict[tuple[str, int], CheckTag]  # (column, check_number) -> tag
    required: dict[str, CheckTag]  # column -> tag for not_nullable


def _expr_check(expr_fn, name: str) -> pa.Check:
    def check(data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(expr_fn(pl.col(data.key)))
    return pa.Check(check, name=name)


def _check_digit(kind: str) -> pa.Check:
    def check(data: pa.PolarsData) -> pl.LazyFrame:
        return valid_frame(kind, data.lazyframe, data.key)
    return pa.Check(check, name=f"check_digit_{kind}")


def range_literals(item: Item, check: Check) -> tuple[pl.Expr, pl.Expr]:
    """A range check's bounds as literals of the item's type (exact for decimals)."""
    lo, hi = check.bounds
    if item.is_date:
        return pl.lit(dt.date.fromisoformat(lo)), pl.lit(dt.date.fromisoformat(hi))
    if item.is_decimal:
        return (pl.lit(Decimal(lo), pl.Decimal(38, item.scale)), pl.lit(Decimal(hi), pl.Decimal(38, item.scale)))
    return pl.lit(int(lo)), pl.lit(int(hi))


def build_schema(layout: Layout, table: Table, items: list[Item] | None = None) -> TableSchema:
    """The pandera schema of a table's items (``items``: the ones a mapping gives a value; the
    others land empty and need no checks)."""
    columns: dict[str, pa.Column] = {}
    tags: dict[tuple[str, int], CheckTag] = {}
    required: dict[str, CheckTag] = {}
    for item in table.items if items is None else items:
        for name, dtype in item.columns():
            checks: list[pa.Check] = []
            if name == item.id and item.is_date:
                # a date's range is checked on the date (a 不詳 or impossible one is null: not checked)
                for chk in item.checks:
                    lo, hi = range_literals(item, chk)
                    checks.append(_expr_check(lambda c, lo=lo, hi=hi: c.is_between(lo, hi), f"range_{chk.arg}"))
                    tags[(name, len(checks) - 1)] = CheckTag(item.id, "out_of_range", chk.level)
            elif name == item.id:
                if item.length is not None and item.type == "string":
                    n = item.length
                    checks.append(_expr_check(lambda c, n=n: c.str.len_chars() <= n, f"max_length_{n}"))
                    tags[(name, len(checks) - 1)] = CheckTag(item.id, "too_long", item.length_level or item.level)
                table_ = layout.code_tables[item.code_table] if item.code_table is not None else None
                codes_fit = (table_ is not None and table_.enforced and item.width is not None
                             and all(len(c) <= item.width for c in table_.codes))
                if (item.width is not None and item.type == "string" and (item.length or item.width + 1) > item.width
                        and not codes_fit):  # an enforced code table's codes fit the width: one check says it
                    # the standard's width, as one vendor's schema gives it: a value beyond it is reported
                    n = item.width
                    checks.append(_expr_check(lambda c, n=n: c.str.len_chars() <= n, f"width_{n}"))
                    tags[(name, len(checks) - 1)] = CheckTag(item.id, "exceeds_width", item.width_level)
                for chk in item.checks:
                    if chk.kind == "pattern":
                        checks.append(pa.Check.str_matches(chk.arg))
                        tags[(name, len(checks) - 1)] = CheckTag(item.id, "invalid_format", chk.level)
                    elif chk.kind == "range":
                        lo, hi = range_literals(item, chk)
                        checks.append(_expr_check(lambda c, lo=lo, hi=hi: c.is_between(lo, hi), f"range_{chk.arg}"))
                        tags[(name, len(checks) - 1)] = CheckTag(item.id, "out_of_range", chk.level)
                    else:
                        kind = chk.arg
                        checks.append(_check_digit(kind))
                        tags[(name, len(checks) - 1)] = CheckTag(item.id, "check_digit", chk.level)
                if table_ is not None and table_.forbidden:
                    bad = list(table_.forbidden)
                    checks.append(_expr_check(lambda c, bad=bad: ~c.is_in(bad), f"forbidden_{item.code_table}"))
                    tags[(name, len(checks) - 1)] = CheckTag(item.id, "forbidden_code", "error")
                if table_ is not None and table_.enforced:
                    # a forbidden code is a code of the table: the forbidden check above reports it
                    checks.append(pa.Check.isin(list(table_.codes)))
                    tags[(name, len(checks) - 1)] = CheckTag(item.id, "invalid_code", item.level)
            # a date that is 不詳 or impossible is null by design: its presence is checked on the text
            nullable = not (item.required and name == item.id and not item.is_date)
            if not nullable:
                required[name] = CheckTag(item.id, "required_missing", "error")
            if checks or not nullable or name == item.id:
                # a date's _status and _text columns hold nothing to check (ikou writes them)
                columns[name] = pa.Column(dtype, checks=checks, nullable=nullable)
    return TableSchema(pa.DataFrameSchema(columns, strict=False), tags, required)


ISSUE_SCHEMA = {"_row": pl.Int64, "item": pl.String, "code": pl.String, "level": pl.String, "value": pl.String}


def failure_issues(ts: TableSchema, frame: pl.DataFrame) -> pl.DataFrame:
    """Validate an eager frame (data checks run) and return one issue per failing value."""
    try:
        # pandera reads PANDERA_VALIDATION_ENABLED and PANDERA_VALIDATION_DEPTH from the environment:
        # ikou's checks are part of the migration, never switched off or thinned by a variable
        with config_context(validation_enabled=True, validation_depth=ValidationDepth.SCHEMA_AND_DATA):
            ts.schema.validate(frame, lazy=True)
    except SchemaErrors as exc:
        fc = exc.failure_cases
    else:
        return pl.DataFrame(schema=ISSUE_SCHEMA)
    unexpected = fc.filter(pl.col("index").is_null())
    if unexpected.height:  # a dtype or column problem is a bug in ikou, never a data problem
        raise RuntimeError(f"schema-level validation failure: {unexpected.to_dicts()[:3]}")
    keys = [(c, n) for c, n in ts.tags]
    tag_frame = pl.DataFrame({
        "column": [c for c, _ in keys] + list(ts.required),
        "check_number": [n for _, n in keys] + [None] * len(ts.required),
        "item": [ts.tags[k].item for k in keys] + [t.item for t in ts.required.values()],
        "code": [ts.tags[k].code for k in keys] + [t.code for t in ts.required.values()],
        "level": [ts.tags[k].level for k in keys] + [t.level for t in ts.required.values()],
    }, schema={"column": pl.String, "check_number": pl.Int32, "item": pl.String, "code": pl.String,
               "level": pl.String})
    fc = fc.with_columns(pl.col("check_number").cast(pl.Int32))
    joined = fc.join(tag_frame, on=["column", "check_number"], how="left", nulls_equal=True)
    missing = joined.filter(pl.col("code").is_null())
    if missing.height:
        raise RuntimeError(f"untagged pandera check: {missing.select('column', 'check').unique().to_dicts()}")
    return joined.select(pl.col("index").cast(pl.Int64).alias("_row"), "item", "code", "level",
                         pl.col("failure_case").cast(pl.String).alias("value"))

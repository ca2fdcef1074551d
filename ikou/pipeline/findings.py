"""What the row stages found in a collected batch: issues (rule flags and pandera's failure
cases, each with a reason code and a level: error = reject, alert = land and report), the values
cleansing or a transformation changed (with their originals), code coverage and 外字 counts."""

from __future__ import annotations

import polars as pl

from ikou.cleansing.text import PUA_PATTERN, pua_name, rules_expr
from ikou.exprs import fmt
from ikou.layout import TEXT_PROFILES, Item
from ikou.masking import mask_expr
from ikou.pipeline.stages import PARTITION_ITEM, Context, steps
from ikou.reasons import catalog, priority
from ikou.validators.schema import ISSUE_SCHEMA, TableSchema, failure_issues


def _flag_issue(frame: pl.DataFrame, when: str | pl.Expr, item: str, code: str, level: str,
                value: pl.Expr) -> pl.LazyFrame:
    """Issues for the rows where ``when`` (a flag column or a condition) holds."""
    condition = pl.col(when) if isinstance(when, str) else when
    # lazy, so that only the columns used are filtered (an eager filter would copy all of them)
    return frame.lazy().filter(condition.fill_null(False)).select(
        pl.col("_row"), pl.lit(item).alias("item"), pl.lit(code).alias("code"), pl.lit(level).alias("level"),
        value.cast(pl.String).alias("value"))


def _item_issues(ctx: Context, item: Item, frame: pl.DataFrame) -> list[pl.LazyFrame]:
    parts = []
    cm = ctx.code_map(item)
    if cm is not None:
        level = "alert" if cm.unmapped == "alert" else "error"
        parts.append(_flag_issue(frame, f"{item.id}__unmapped", item.id, "unmapped_code", level,
                                 pl.col(f"{item.id}__legacy")))
    if item.is_integer or item.is_decimal or item.is_float:
        flag, code = (f"{item.id}__badint", "invalid_integer") if item.is_integer else (
            f"{item.id}__baddec", "invalid_decimal") if item.is_decimal else (f"{item.id}__badfloat", "invalid_float")
        parts.append(_flag_issue(frame, flag, item.id, code, item.level, pl.col(f"{item.id}__text_value")))
    if f"{item.id}__lookup_miss" in frame.columns:
        level = ctx.mapping.lookups[ctx.item_map(item.id).lookup].unmatched
        parts.append(_flag_issue(frame, f"{item.id}__lookup_miss", item.id, "lookup_unmatched", level,
                                 pl.col(f"{item.id}__lookup_key")))
    if f"{item.id}__gaiji" in frame.columns:
        level = "error" if ctx.mapping.gaiji and ctx.mapping.gaiji.unmapped == "reject" else "alert"
        first = pua_name(pl.col(item.id).str.extract(f"({PUA_PATTERN})"))
        # character position within the value (str.find would give a UTF-8 byte index)
        at = pl.col(item.id).str.extract(f"^([^{PUA_PATTERN[1:-1]}]*)").str.len_chars() + 1
        parts.append(_flag_issue(frame, f"{item.id}__gaiji", item.id, "unmapped_gaiji", level,
                                 fmt("{} at character {} of '{}'", first, at, pl.col(item.id))))
    if item.is_date:
        status = pl.col(f"{item.id}__status")
        raw = pl.col(f"{item.id}__raw").str.strip_chars(" \u3000\t")
        outside = {"alert": "alert", "error": item.level}.get(ctx.mapping.outside_era)  # convert: no issue
        for value, code, level in (("invalid", "invalid_date", item.level), ("unknown", "unknown_date", "alert"),
                                   ("impossible", "impossible_date", "alert"),
                                   ("outside_era", "date_outside_era", outside)):
            if level is not None:
                parts.append(_flag_issue(frame, status == value, item.id, code, level, raw))
        if item.required:
            parts.append(_flag_issue(frame, status.is_null(), item.id, "required_missing", "error", raw))
    return parts


def issues(ctx: Context, ts: TableSchema, frame: pl.DataFrame, pandera: bool = True) -> pl.DataFrame:
    """All issues of a collected batch: rule flags plus pandera failure cases, one per row and item
    (the most specific code wins). ``pandera=False``: the benchmark's ablation only."""
    parts: list[pl.LazyFrame] = ([failure_issues(ts, frame.select(ts.schema.columns.keys())).lazy()] if pandera
                                 else [])
    for item in ctx.fed_items:
        parts += _item_issues(ctx, item, frame)
    for j, (sp, col) in enumerate(ctx.feeds.splits):
        parts.append(_flag_issue(frame, f"__split{j}__miss", sp.items[0], "split_mismatch", sp.on_mismatch,
                                 pl.col(f"__split{j}__text")))
    if "__wrong_municipality" in frame.columns:
        parts.append(_flag_issue(frame, "__wrong_municipality", PARTITION_ITEM, "wrong_municipality", "error",
                                 pl.col(PARTITION_ITEM)))
    for a, b in ctx.table.date_order:
        if f"__order__{a}__{b}" in frame.columns:
            name_a, name_b = ctx.table.item(a).name_ja, ctx.table.item(b).name_ja
            parts.append(_flag_issue(frame, f"__order__{a}__{b}", b, "date_order", "alert",
                                     fmt(f"{name_b} {{}} is before {name_a} {{}}", pl.col(b), pl.col(a))))
    # one query for all of them: polars runs the filters side by side
    found = pl.concat([p.cast(ISSUE_SCHEMA) for p in parts], how="vertical").collect()
    return most_specific(found)


def most_specific(found: pl.DataFrame) -> pl.DataFrame:
    """One issue per row and item: when a value breaks several rules, the catalogue's first."""
    rank = priority()
    return (found.with_columns(pl.col("code").replace_strict(rank, default=len(rank), return_dtype=pl.Int32)
                               .alias("__rank"))
            .sort("_row", "item", "__rank").unique(["_row", "item"], keep="first", maintain_order=True)
            .drop("__rank"))


def describe(items: dict[str, Item], issues_lf: pl.LazyFrame) -> pl.LazyFrame:
    """Fill in a readable ``message`` where none is set, and mask the value of sensitive items
    (個人番号 …) so that no report or log shows it."""
    names = {item_id: it.name_ja for item_id, it in items.items()}
    sensitive = [item_id for item_id, it in items.items() if it.sensitive]
    value = pl.when(pl.col("item").is_in(sensitive)).then(mask_expr(pl.col("value"))).otherwise(pl.col("value"))
    text = pl.lit(None, pl.String)
    for code, entry in catalog().items():
        template = entry.en
        args = [pl.col("value").fill_null("")] if "{}" in template else []
        text = pl.when(pl.col("code") == code).then(fmt(template, *args)).otherwise(text)
    label = fmt("{} ({}): ", pl.col("item").replace_strict(names, default=pl.col("item")), pl.col("item"))
    return issues_lf.with_columns(value=value).with_columns(
        message=pl.coalesce(pl.col("message"), pl.concat_str([label, text])))


CHANGE_SCHEMA = {"_row": pl.Int64, "item": pl.String, "rules": pl.String, "original": pl.String,
                 "cleansed": pl.String}


def changes(ctx: Context, frame: pl.DataFrame) -> pl.DataFrame:
    """Every value cleansing or a transformation changed, with its original and the rules that
    changed it: a split part keeps the whole column's text, a looked-up value its key, a value
    taken by default_from the item it came from."""
    split_of = {item: j for j, (sp, _) in enumerate(ctx.feeds.splits) for item in sp.items}
    parts = []
    for item in ctx.fed_items:
        if item.is_date:
            continue
        im = ctx.item_map(item.id)
        cleansed = pl.col(f"{item.id}__legacy") if f"{item.id}__legacy" in frame.columns else pl.col(item.id)
        if item.is_integer or item.is_decimal or item.is_float:
            cleansed = pl.col(f"{item.id}__text_value")
        rules = rules_expr(item.id, steps(ctx, item))
        original, changed = pl.col(f"{item.id}__raw"), pl.col(f"{item.id}__changed")
        if item.id in split_of:
            j = split_of[item.id]
            original, changed = pl.col(f"__split{j}__text"), changed | pl.col(f"{item.id}__raw").is_not_null()
            rules = pl.concat_str([pl.lit("split"), rules], separator="+", ignore_nulls=True)
        elif im is not None and im.lookup:
            original, changed = pl.col(f"{item.id}__lookup_key"), changed | pl.col(f"{item.id}__raw").is_not_null()
            rules = pl.concat_str([pl.lit(f"lookup:{im.lookup}"), rules], separator="+", ignore_nulls=True)
        if im is not None and im.default_from:
            defaulted = pl.col(f"{item.id}__defaulted")
            changed = changed | defaulted
            rules = pl.when(defaulted).then(pl.lit(f"default_from:{im.default_from}")).otherwise(rules)
            original = pl.when(~defaulted).then(original)
            cleansed = pl.when(defaulted).then(pl.col(item.id).cast(pl.String)).otherwise(cleansed)
        parts.append(frame.lazy().filter(changed).select(
            "_row", pl.lit(item.id).alias("item"), rules.alias("rules"), original.alias("original"),
            cleansed.cast(pl.String).alias("cleansed")))
    return (pl.concat([p.cast(CHANGE_SCHEMA) for p in parts], how="vertical").collect() if parts
            else pl.DataFrame(schema=CHANGE_SCHEMA))


COVERAGE_SCHEMA = {"code_table": pl.String, "item": pl.String, "legacy_code": pl.String, "standard_code": pl.String,
                   "records": pl.Int64, "first_file": pl.Int32, "first_line": pl.Int64}


def coverage(ctx: Context, frame: pl.DataFrame) -> pl.DataFrame:
    """Counts of each legacy code per code table (used and unmapped; unused are added at the end).
    The first place a code was seen is the earliest record holding it (file, then line)."""
    parts = []
    for item in ctx.fed_items:
        cm = ctx.code_map(item)
        if cm is None:
            continue
        parts.append(frame.lazy().filter(pl.col(f"{item.id}__legacy").is_not_null()).group_by(f"{item.id}__legacy").agg(
            records=pl.len(), first_file=pl.col("_file").min(), first_line=pl.col("_line").min(),
            standard_code=pl.col(item.id).first()).select(
            pl.lit(cm.id).alias("code_table"), pl.lit(item.id).alias("item"),
            pl.col(f"{item.id}__legacy").alias("legacy_code"), "standard_code", "records", "first_file", "first_line"))
    return (pl.concat([p.cast(COVERAGE_SCHEMA) for p in parts], how="vertical").collect() if parts
            else pl.DataFrame(schema=COVERAGE_SCHEMA))


GAIJI_SCHEMA = {"item": pl.String, "code": pl.String, "records": pl.Int64}


def gaiji_counts(ctx: Context, frame: pl.DataFrame) -> pl.DataFrame:
    """How often each private-use character (外字) occurs in each text item, before mapping."""
    items = [item.id for item in ctx.fed_items if item.type == "string" and item.profile in TEXT_PROFILES]
    if not items:
        return pl.DataFrame(schema=GAIJI_SCHEMA)
    # the (few) records holding one are found in one pass; only their values are split into characters
    holding = frame.select([pl.col(f"{i}__raw").alias(i) for i in items]).filter(
        pl.any_horizontal([pl.col(i).str.contains(PUA_PATTERN) for i in items]))
    return (holding.unpivot(variable_name="item", value_name="value")
            .select("item", pl.col("value").str.extract_all(PUA_PATTERN).alias("c")).explode("c").drop_nulls("c")
            .group_by("item", "c", maintain_order=True).len()
            .select("item", pua_name(pl.col("c")).alias("code"),
                    pl.col("len").cast(pl.Int64).alias("records")))

"""Row-level stages: named, pure ``LazyFrame -> LazyFrame`` functions, applied in order.

Column conventions inside the pipeline (none of the ``__`` columns is landed):
- ``<item>__raw``: the value as extracted (string), before any cleansing;
- ``<item>``: the cleansed, code-mapped, typed standard value (the landed column);
- ``<item>__changed``, ``<item>__step_<rule>``: cleansing (and which rule) changed the value;
- ``<item>__legacy``: the legacy code before code-table mapping;
- ``<item>__status``: a date's parse status; date items also land ``<item>_status``/``_text``;
- ``<item>__unmapped``, ``<item>__badint``, ``<item>__gaiji``, ``__order__<a>__<b>``: rule flags.

``issues`` turns the flags and pandera's failure cases into one long table of issues, each with
a reason code and a level (error = reject, alert = land and report).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from ikou.exprs import apply_layers, fmt

from ikou.cleansing.dates import date_layers
from ikou.cleansing.text import PUA_PATTERN, cleanse_text_layers, pua_name, rules_expr, steps_for
from ikou.layout import Item, Layout, Table
from ikou.mapping import CodeMap, ItemMap, Mapping, Source
from ikou.masking import mask_expr
from ikou.validators.schema import ISSUE_SCHEMA, TableSchema, failure_issues

Stage = tuple[str, Callable[[pl.LazyFrame], pl.LazyFrame]]
META = ["_file", "_line", "_offset", "_length"]
TEXT_PROFILES = {"name", "kana", "text"}
PARTITION_ITEM = "municipality_code"  # every layout table has it: the landed partition key

# When one value breaks several rules, the most specific one is reported.
CODE_PRIORITY = ["invalid_encoding", "field_count", "unterminated_quote", "record_length", "unknown_record_type",
                 "invalid_number", "ambiguous_field", "wrong_municipality", "unmapped_code", "invalid_date",
                 "invalid_integer", "invalid_code", "invalid_format", "too_long", "check_digit",
                 "required_missing", "duplicate_conflict", "multiple_household_heads",
                 "unknown_date", "impossible_date", "date_outside_era", "date_order", "unmapped_gaiji",
                 "household_without_head"]

MESSAGES = {
    "required_missing": "required item is empty",
    "wrong_municipality": "'{}' is not the municipality this mapping migrates",
    "unmapped_code": "legacy code '{}' has no entry in the mapping's code table",
    "invalid_code": "'{}' is not a code of the standard code table",
    "invalid_format": "'{}' does not have the required format",
    "too_long": "'{}' is longer than the layout allows",
    "check_digit": "'{}' has a wrong check digit",
    "invalid_date": "'{}' is not a date in any accepted form",
    "invalid_integer": "'{}' is not a whole number",
    "unknown_date": "date is 不詳 (unknown): '{}' is kept in the _text column",
    "impossible_date": "'{}' is not a calendar date: kept in the _text column",
    "date_outside_era": "'{}' lies outside its era: converted, original kept in the _text column",
    "date_order": "{}",
    "unmapped_gaiji": "private-use character (外字) {} has no entry in the 外字 table: kept as is",
}


@dataclass(frozen=True)
class Context:
    """Everything a row-level stage needs, for one source file."""
    mapping: Mapping
    source: Source
    table: Table
    columns: dict[str, str]  # item id -> the file's column name

    @property
    def layout(self) -> Layout:
        return self.mapping.layout

    def item_map(self, item_id: str) -> ItemMap | None:
        return next((im for im in self.source.items if im.item == item_id), None)

    def code_map(self, item: Item) -> CodeMap | None:
        im = self.item_map(item.id)
        return self.mapping.code_tables[im.code_table] if im is not None and im.code_table else None


def map_to_layout(ctx: Context) -> Stage:
    def stage(lf: pl.LazyFrame) -> pl.LazyFrame:
        cols = []
        for item in ctx.table.items:
            im = ctx.item_map(item.id)
            if im is not None and im.value is not None:
                cols.append(pl.lit(im.value, pl.String).alias(f"{item.id}__raw"))
            elif item.id in ctx.columns:
                cols.append(pl.col(ctx.columns[item.id]).alias(f"{item.id}__raw"))
            else:
                cols.append(pl.lit(None, pl.String).alias(f"{item.id}__raw"))
        return lf.select(*META, "_raw", *cols)
    return "map_to_layout", stage


def cleanse(ctx: Context) -> Stage:
    text_specs, date_specs = [], []
    for item in ctx.table.items:
        im = ctx.item_map(item.id)
        if item.is_date:
            forms = (im.date_forms if im and im.date_forms else None) or ctx.mapping.date_forms
            date_specs.append((f"{item.id}__raw", item.id, forms))
        else:
            text_specs.append((f"{item.id}__raw", item.id, _steps(ctx, item)))

    layers = cleanse_text_layers(text_specs), date_layers(date_specs, ctx.mapping.eras)

    def stage(lf: pl.LazyFrame) -> pl.LazyFrame:
        return apply_layers(apply_layers(lf, layers[0]), layers[1])
    return "cleanse", stage


def _steps(ctx: Context, item: Item):
    im = ctx.item_map(item.id)
    gaiji = ctx.mapping.gaiji.entries if ctx.mapping.gaiji else None
    return steps_for(item.profile, im.pad if im else None, gaiji)


def map_codes(ctx: Context) -> Stage:
    def stage(lf: pl.LazyFrame) -> pl.LazyFrame:
        cols = []
        for item in ctx.table.items:
            cm = ctx.code_map(item)
            if cm is None:
                continue
            legacy = pl.col(item.id)
            mapped = legacy.replace_strict(cm.codes, default=None, return_dtype=pl.String)
            cols += [legacy.alias(f"{item.id}__legacy"), mapped.alias(item.id),
                     (legacy.is_not_null() & mapped.is_null()).alias(f"{item.id}__unmapped")]
        return lf.with_columns(cols) if cols else lf
    return "map_codes", stage


def cast_types(ctx: Context) -> Stage:
    def stage(lf: pl.LazyFrame) -> pl.LazyFrame:
        cols = []
        for item in ctx.table.items:
            if item.is_integer:
                as_int = pl.col(item.id).cast(pl.Int64, strict=False)
                cols += [as_int.alias(item.id),
                         (pl.col(item.id).is_not_null() & as_int.is_null()).alias(f"{item.id}__badint"),
                         pl.col(item.id).alias(f"{item.id}__text_value")]
        return lf.with_columns(cols) if cols else lf
    return "cast_types", stage


def flag_rules(ctx: Context) -> Stage:
    def stage(lf: pl.LazyFrame) -> pl.LazyFrame:
        cols = []
        for item in ctx.table.items:
            if item.profile in TEXT_PROFILES and not item.is_date:
                cols.append(pl.col(item.id).str.contains(PUA_PATTERN).fill_null(False).alias(f"{item.id}__gaiji"))
        for a, b in ctx.table.date_order:
            cols.append((pl.col(a).is_not_null() & pl.col(b).is_not_null() & (pl.col(a) > pl.col(b)))
                        .alias(f"__order__{a}__{b}"))
        if PARTITION_ITEM in ctx.table.item_ids:
            # the run lands one municipality's partition: a record of another one is an error
            cols.append((pl.col(PARTITION_ITEM) != ctx.mapping.municipality_code).fill_null(False)
                        .alias("__wrong_municipality"))
        return lf.with_columns(cols) if cols else lf
    return "flag_rules", stage


def row_stages(ctx: Context) -> list[Stage]:
    return [map_to_layout(ctx), cleanse(ctx), map_codes(ctx), cast_types(ctx), flag_rules(ctx)]


def run_stages(lf: pl.LazyFrame, stages: list[Stage],
               on_stage: Callable[[int, str, pl.LazyFrame], None] | None = None) -> pl.LazyFrame:
    for i, (name, fn) in enumerate(stages):
        lf = fn(lf)
        if on_stage is not None:
            on_stage(i, name, lf)
    return lf


def _flag_issue(frame: pl.DataFrame, when: str | pl.Expr, item: str, code: str, level: str,
                value: pl.Expr) -> pl.LazyFrame:
    """Issues for the rows where ``when`` (a flag column or a condition) holds."""
    condition = pl.col(when) if isinstance(when, str) else when
    # lazy, so that only the columns used are filtered (an eager filter would copy all of them)
    return frame.lazy().filter(condition.fill_null(False)).select(
        pl.col("_row"), pl.lit(item).alias("item"), pl.lit(code).alias("code"), pl.lit(level).alias("level"),
        value.cast(pl.String).alias("value"))


def issues(ctx: Context, ts: TableSchema, frame: pl.DataFrame) -> pl.DataFrame:
    """All issues of a collected batch: rule flags plus pandera failure cases, one per row and item
    (the most specific code wins)."""
    parts: list[pl.LazyFrame] = [failure_issues(ts, frame.select(ts.schema.columns.keys())).lazy()]
    for item in ctx.table.items:
        cm = ctx.code_map(item)
        if cm is not None:
            level = "alert" if cm.unmapped == "alert" else "error"
            parts.append(_flag_issue(frame, f"{item.id}__unmapped", item.id, "unmapped_code", level,
                                     pl.col(f"{item.id}__legacy")))
        if item.is_integer:
            parts.append(_flag_issue(frame, f"{item.id}__badint", item.id, "invalid_integer", item.level,
                                     pl.col(f"{item.id}__text_value")))
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
    if "__wrong_municipality" in frame.columns:
        parts.append(_flag_issue(frame, "__wrong_municipality", PARTITION_ITEM, "wrong_municipality", "error",
                                 pl.col(PARTITION_ITEM)))
    for a, b in ctx.table.date_order:
        name_a, name_b = ctx.table.item(a).name_ja, ctx.table.item(b).name_ja
        parts.append(_flag_issue(frame, f"__order__{a}__{b}", b, "date_order", "alert",
                                 fmt(f"{name_b} {{}} is before {name_a} {{}}", pl.col(b), pl.col(a))))
    # one query for all of them: polars runs the filters side by side
    found = pl.concat([p.cast(ISSUE_SCHEMA) for p in parts], how="vertical").collect()
    return most_specific(found)


def most_specific(found: pl.DataFrame) -> pl.DataFrame:
    rank = {c: i for i, c in enumerate(CODE_PRIORITY)}
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
    for code, template in MESSAGES.items():
        args = [pl.col("value").fill_null("")] if "{}" in template else []
        text = pl.when(pl.col("code") == code).then(fmt(template, *args)).otherwise(text)
    label = fmt("{} ({}): ", pl.col("item").replace_strict(names, default=pl.col("item")), pl.col("item"))
    return issues_lf.with_columns(value=value).with_columns(
        message=pl.coalesce(pl.col("message"), pl.concat_str([label, text])))


def changes(ctx: Context, frame: pl.DataFrame) -> pl.DataFrame:
    """Every value cleansing changed, with its original and the rules that changed it."""
    parts = []
    for item in ctx.table.items:
        if item.is_date or f"{item.id}__changed" not in frame.columns:
            continue
        steps = _steps(ctx, item)
        cleansed = pl.col(f"{item.id}__legacy") if f"{item.id}__legacy" in frame.columns else pl.col(item.id)
        if item.is_integer:
            cleansed = pl.col(f"{item.id}__text_value")
        raw = pl.col(f"{item.id}__raw")
        parts.append(frame.lazy().filter(pl.col(f"{item.id}__changed")).select(
            "_row", pl.lit(item.id).alias("item"), rules_expr(item.id, steps).alias("rules"),
            raw.alias("original"), cleansed.cast(pl.String).alias("cleansed")))
    schema = {"_row": pl.Int64, "item": pl.String, "rules": pl.String, "original": pl.String, "cleansed": pl.String}
    return (pl.concat([p.cast(schema) for p in parts], how="vertical").collect() if parts
            else pl.DataFrame(schema=schema))


def coverage(ctx: Context, frame: pl.DataFrame) -> pl.DataFrame:
    """Counts of each legacy code per code table (used and unmapped; unused are added at the end)."""
    parts = []
    for item in ctx.table.items:
        cm = ctx.code_map(item)
        if cm is None:
            continue
        parts.append(frame.lazy().filter(pl.col(f"{item.id}__legacy").is_not_null()).group_by(f"{item.id}__legacy").agg(
            records=pl.len(), first_file=pl.col("_file").first(), first_line=pl.col("_line").min(),
            standard_code=pl.col(item.id).first()).select(
            pl.lit(cm.id).alias("code_table"), pl.lit(item.id).alias("item"),
            pl.col(f"{item.id}__legacy").alias("legacy_code"), "standard_code", "records", "first_file", "first_line"))
    return (pl.concat([p.cast(COVERAGE_SCHEMA) for p in parts], how="vertical").collect() if parts
            else pl.DataFrame(schema=COVERAGE_SCHEMA))


GAIJI_SCHEMA = {"item": pl.String, "code": pl.String, "records": pl.Int64}


def gaiji_counts(ctx: Context, frame: pl.DataFrame) -> pl.DataFrame:
    """How often each private-use character (外字) occurs in each text item, before mapping."""
    items = [item.id for item in ctx.table.items if not item.is_date and item.profile in TEXT_PROFILES]
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


COVERAGE_SCHEMA = {"code_table": pl.String, "item": pl.String, "legacy_code": pl.String, "standard_code": pl.String,
                   "records": pl.Int64, "first_file": pl.Int32, "first_line": pl.Int64}

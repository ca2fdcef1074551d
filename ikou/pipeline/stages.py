"""Row-level stages: named, pure ``LazyFrame -> LazyFrame`` functions, applied in order.

Column conventions inside the pipeline (none of the ``__`` columns is landed):
- ``<item>__raw``: the value as extracted (string), before any cleansing (pipeline/feeds.py);
- ``<item>``: the cleansed, code-mapped, typed standard value (the landed column);
- ``<item>__changed``, ``<item>__step_<rule>``: cleansing (and which rule) changed the value;
- ``<item>__legacy``: the legacy code before code-table mapping;
- ``<item>__status``: a date's parse status; date items also land ``<item>_status``/``_text``;
- ``<item>__unmapped``, ``<item>__badint``, ``<item>__baddec``, ``<item>__badfloat``, ``<item>__gaiji``,
  ``<item>__defaulted``, ``<item>__lookup_miss``, ``__split<n>__miss``, ``__order__<a>__<b>``:
  rule flags.

Only the items the mapping feeds go through the stages and are staged; the layout's other items
are null and added when the landed table is written (``staged_columns``), so a layout of 200
items costs what its mapped items cost.
``findings.py`` turns the flags and pandera's failure cases into issues, changes and counts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from ikou.cleansing.dates import date_layers
from ikou.cleansing.text import PUA_PATTERN, cleanse_text_layers, steps_for
from ikou.exprs import apply_layers
from ikou.layout import TEXT_PROFILES, Item, Layout, Table
from ikou.mapping import CodeMap, ItemMap, Mapping, Source
from ikou.pipeline.feeds import EXTRAS, Feeds, raw_columns

Stage = tuple[str, Callable[[pl.LazyFrame], pl.LazyFrame]]
META = ["_file", "_line", "_offset", "_length"]
PARTITION_ITEM = "municipality_code"  # every layout table has it: the landed partition key
DECIMAL = r"^[+-]?[0-9]+(?:\.[0-9]+)?$"


@dataclass(frozen=True)
class Context:
    """Everything a row-level stage needs, for one source file."""
    mapping: Mapping
    source: Source
    table: Table
    feeds: Feeds

    @property
    def layout(self) -> Layout:
        return self.mapping.layout

    @property
    def columns(self) -> dict[str, str]:
        """item id -> the file's (first) column feeding it."""
        return {f.item: f.columns[0] for f in self.feeds.by_item.values() if f.columns}

    def item_map(self, item_id: str) -> ItemMap | None:
        return next((im for im in self.source.items if im.item == item_id), None)

    def code_map(self, item: Item) -> CodeMap | None:
        im = self.item_map(item.id)
        return self.mapping.code_tables[im.code_table] if im is not None and im.code_table else None

    @property
    def derived(self) -> dict[str, tuple[str, str]]:
        """Items ikou fills from a fed date: the standard's _不詳フラグ / _不詳表記 -> (date, role)."""
        out = {}
        for item in self.table.items:
            if item.is_date and item.id in self.feeds.fed:
                for role, target in (("flag", item.unknown_flag), ("text", item.unknown_text)):
                    if target and target not in self.feeds.fed:
                        out[target] = (item.id, role)
        return out

    @property
    def fed_items(self) -> list[Item]:
        """The items this file gives a value: mapped, split or defaulted (the stages' work)."""
        return [it for it in self.table.items if it.id in self.feeds.fed]

    @property
    def landed_items(self) -> list[Item]:
        """Fed and derived items: those that may hold a value (the pandera schema checks these)."""
        derived = self.derived
        return [it for it in self.table.items if it.id in self.feeds.fed or it.id in derived]

    @property
    def not_provided(self) -> set[str]:
        return {item for item, _ in self.source.not_provided}


def map_to_layout(ctx: Context) -> Stage:
    cols = raw_columns(ctx.mapping, ctx.feeds)

    def stage(lf: pl.LazyFrame) -> pl.LazyFrame:
        return lf.select(*META, "_raw", *cols)
    return "map_to_layout", stage


def cleanse(ctx: Context) -> Stage:
    text_specs, date_specs = [], []
    for item in ctx.fed_items:
        im = ctx.item_map(item.id)
        if item.is_date:
            forms = (im.date_forms if im and im.date_forms else None) or ctx.mapping.date_forms
            date_specs.append((f"{item.id}__raw", item.id, forms))
        else:
            text_specs.append((f"{item.id}__raw", item.id, steps(ctx, item)))
    layers = cleanse_text_layers(text_specs), date_layers(date_specs, ctx.mapping.eras)

    def stage(lf: pl.LazyFrame) -> pl.LazyFrame:
        return apply_layers(apply_layers(lf, layers[0]), layers[1])
    return "cleanse", stage


def steps(ctx: Context, item: Item):
    """The cleansing steps of an item in this mapping (profile, 外字 table, padding)."""
    im = ctx.item_map(item.id)
    gaiji = ctx.mapping.gaiji.entries if ctx.mapping.gaiji else None
    return steps_for(item.profile, im.pad if im else None, gaiji)


def derive(ctx: Context) -> Stage:
    """``default_from`` (an empty item takes another item's cleansed value) and the standard's
    不詳 items of each date: _不詳フラグ 1 for a 不詳 date (0 for any other date), _不詳表記 its text."""
    defaults = [(im.item, im.default_from) for im in ctx.source.items if im.default_from]

    def stage(lf: pl.LazyFrame) -> pl.LazyFrame:
        layer = []
        for item_id, other in defaults:
            item = ctx.table.item(item_id)
            if item.is_date:
                take = pl.col(f"{item_id}__status").is_null() & pl.col(f"{other}__status").is_not_null()
                layer += [pl.when(take).then(pl.col(f"{other}{sfx}")).otherwise(pl.col(f"{item_id}{sfx}"))
                          .alias(f"{item_id}{sfx}") for sfx in ("", "_status", "_text", "__status")]
            else:
                take = pl.col(item_id).is_null() & pl.col(other).is_not_null()
                layer.append(pl.when(take).then(pl.col(other)).otherwise(pl.col(item_id)).alias(item_id))
            layer.append(take.alias(f"{item_id}__defaulted"))
        for target, (date, role) in ctx.derived.items():
            status = pl.col(f"{date}__status")
            if role == "flag":
                layer.append(pl.when(status.is_not_null()).then(
                    pl.when(status == "unknown").then(pl.lit("1")).otherwise(pl.lit("0"))).alias(target))
            else:
                layer.append(pl.when(status == "unknown").then(pl.col(f"{date}_text")).alias(target))
        return lf.with_columns(layer) if layer else lf
    return "derive", stage


def map_codes(ctx: Context) -> Stage:
    def stage(lf: pl.LazyFrame) -> pl.LazyFrame:
        cols = []
        for item in ctx.fed_items:
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
        for item in ctx.fed_items:
            text = pl.col(item.id)
            if item.is_integer:
                as_int = text.cast(pl.Int64, strict=False)
                cols += [as_int.alias(item.id), (text.is_not_null() & as_int.is_null()).alias(f"{item.id}__badint"),
                         text.alias(f"{item.id}__text_value")]
            elif item.is_decimal:
                # exact: the text must be a plain decimal within precision and scale (polars' cast
                # would round 0.123 to 0.12 and read 1e3); anything else is invalid_decimal
                whole, frac = text.str.split_exact(".", 1).struct.field("field_0"), \
                    text.str.split_exact(".", 1).struct.field("field_1")
                digits = whole.str.strip_chars_start("+-").str.strip_chars_start("0")
                fits = (text.str.contains(DECIMAL) & (digits.str.len_chars() <= item.precision - item.scale)
                        & (frac.str.len_chars().fill_null(0) <= item.scale))
                value = pl.when(fits).then(text).cast(item.dtype, strict=False)
                cols += [value.alias(item.id), (text.is_not_null() & value.is_null()).alias(f"{item.id}__baddec"),
                         text.alias(f"{item.id}__text_value")]
            elif item.is_float:
                number = text.cast(pl.Float64, strict=False)
                value = pl.when(number.is_finite()).then(number)
                cols += [value.alias(item.id), (text.is_not_null() & value.is_null()).alias(f"{item.id}__badfloat"),
                         text.alias(f"{item.id}__text_value")]
        return lf.with_columns(cols) if cols else lf
    return "cast_types", stage


def flag_rules(ctx: Context) -> Stage:
    fed = ctx.feeds.fed

    def stage(lf: pl.LazyFrame) -> pl.LazyFrame:
        cols = []
        for item in ctx.fed_items:
            if item.profile in TEXT_PROFILES and item.type == "string":
                cols.append(pl.col(item.id).str.contains(PUA_PATTERN).fill_null(False).alias(f"{item.id}__gaiji"))
        for a, b in ctx.table.date_order:
            if a in fed and b in fed:
                cols.append((pl.col(a).is_not_null() & pl.col(b).is_not_null() & (pl.col(a) > pl.col(b)))
                            .alias(f"__order__{a}__{b}"))
        if PARTITION_ITEM in fed:
            # the run lands one municipality's partition: a record of another one is an error
            cols.append((pl.col(PARTITION_ITEM) != ctx.mapping.municipality_code).fill_null(False)
                        .alias("__wrong_municipality"))
        return lf.with_columns(cols) if cols else lf
    return "flag_rules", stage


def row_stages(ctx: Context, cleansing: bool = True) -> list[Stage]:
    """The row stages in order. ``cleansing=False`` is the benchmark's ablation only: every item
    keeps its extracted text and every date becomes 2000-01-01 (the output is wrong by design)."""
    return [map_to_layout(ctx), cleanse(ctx) if cleansing else _no_cleansing(ctx), derive(ctx), map_codes(ctx),
            cast_types(ctx), flag_rules(ctx)]


def _no_cleansing(ctx: Context) -> Stage:
    cols = []
    for item in ctx.fed_items:
        if item.is_date:
            cols += [pl.lit(dt.date(2000, 1, 1)).alias(item.id), pl.lit(None, pl.String).alias(f"{item.id}_status"),
                     pl.lit(None, pl.String).alias(f"{item.id}_text"), pl.lit("ok").alias(f"{item.id}__status")]
        else:
            cols += [pl.col(f"{item.id}__raw").alias(item.id), pl.lit(False).alias(f"{item.id}__changed")]
            cols += [pl.lit(False).alias(f"{item.id}__step_{st.name}") for st in steps(ctx, item)]
    return "cleanse", lambda lf: lf.with_columns(cols)


def staged_columns(ctx: Context) -> list[str]:
    """The landed columns a file's staged rows carry: those of the items it feeds or derives,
    and extras. The layout's other items are null in every row of the file; they are added when
    the landed table is written (a layout of 200 items costs what its fed items cost)."""
    return [name for it in ctx.landed_items for name, _ in it.columns()] + [EXTRAS]


def run_stages(lf: pl.LazyFrame, stages: list[Stage],
               on_stage: Callable[[int, str, pl.LazyFrame], None] | None = None) -> pl.LazyFrame:
    for i, (name, fn) in enumerate(stages):
        lf = fn(lf)
        if on_stage is not None:
            on_stage(i, name, lf)
    return lf


def landed_columns(table: Table) -> list[str]:
    """The columns of a landed row: the layout's, then the extras map."""
    return [*table.schema(), EXTRAS]

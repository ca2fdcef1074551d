"""Value-level reconciliation (値の照合): every non-empty value of a mapped or kept column ends in
exactly one place, as every record does.

For each column of a file: non-empty source values = values landed + values in rejected records
+ values in merged records + values cleared by a rule (a value of spaces only trimmed to
nothing, an unmapped code or a split that did not match at alert level, …), counted by rule. A
value that became empty with no rule to say why is *lost*, and a run with a lost value does not
reconcile (exit 3, nothing landed). The count is taken in three places that must agree: the
extractor's columns (before any stage), each record after the stages, and the landed Parquet
read back per item.

Per chunk, :func:`chunk_counts` counts the values of the records the row rules reject and of the
candidates; the candidates the set-level rules take out later (merged, conflicting, households)
are few, and :func:`removed_counts` recounts those from their staged rows (``_cleared`` names
the columns a rule emptied in such a record).
"""

from __future__ import annotations

import polars as pl

from ikou.pipelines.feeds import EXTRAS
from ikou.pipelines.stages import Context

CLEARED = "_cleared"  # staged: the columns (index:rule) a rule emptied in a record, ';'-joined
COUNT_SCHEMA = {"column": pl.String, "bucket": pl.String, "n": pl.Int64}


def _value_columns(ctx: Context, item_id: str) -> list[str]:
    """The landed columns holding an item's value (a date: the date, or its kept text)."""
    item = ctx.table.item(item_id)
    return [item_id, f"{item_id}_text"] if item.is_date else [item_id]


def arrived(ctx: Context, column: str) -> pl.Expr:
    """The column's value is in the landed row: in an item it feeds, or in extras (kept)."""
    use = next(c for c in ctx.feeds.columns if c.column == column)
    if use.fate == "kept":
        entries = pl.col(EXTRAS).list.eval(pl.element().struct.field("key") == column).list.any()
        return entries.fill_null(False)
    return pl.any_horizontal([pl.col(v).is_not_null() for t in use.items for v in _value_columns(ctx, t)])


def _rule(ctx: Context, k: int, column: str, frame_columns: set[str]) -> pl.Expr:
    """Why a value did not arrive: the first rule that explains it, or null (lost)."""
    use = next(c for c in ctx.feeds.columns if c.column == column)
    rule = pl.lit(None, pl.String)
    splits = {item: j for j, (sp, _) in enumerate(ctx.feeds.splits) for item in sp.items}
    checks: list[tuple[pl.Expr, str]] = []
    for t in use.items:
        for flag, name in ((f"{t}__unmapped", "unmapped_code"), (f"{t}__badint", "invalid_integer"),
                           (f"{t}__baddec", "invalid_decimal"), (f"{t}__lookup_miss", "lookup_unmatched")):
            if flag in frame_columns:
                checks.append((pl.col(flag), name))
        if t in splits:
            checks.append((pl.col(f"__split{splits[t]}__miss"), "split_mismatch"))
    # a value of spaces only is trimmed to nothing: cleansing's rule, not a loss
    checks.append((pl.col(f"__blank{k}"), "trim"))
    for cond, name in reversed(checks):
        rule = pl.when(cond.fill_null(False)).then(pl.lit(name)).otherwise(rule)
    return rule


def value_exprs(ctx: Context, frame_columns: set[str]) -> tuple[list[pl.Expr], list[pl.Expr]]:
    """Per counted column k: ``__arr<k>`` (arrived) and ``__why<k>`` (the rule that cleared it,
    or null), over a staged frame that still has the source columns' ``__has`` flags."""
    arr, why = [], []
    for k, c in enumerate(ctx.feeds.counted):
        a = arrived(ctx, c)
        arr.append(a.alias(f"__arr{k}"))
        why.append(pl.when(pl.col(f"__has{k}") & ~a).then(_rule(ctx, k, c, frame_columns)).alias(f"__why{k}"))
    return arr, why


def chunk_counts(ctx: Context, frame: pl.DataFrame, rejected: pl.Expr) -> tuple[pl.DataFrame, pl.Series]:
    """The value counts of one chunk and the staged ``_cleared`` column (null for most records).
    ``frame``: the staged records with ``__has<k>``, ``__arr<k>``, ``__why<k>``; ``rejected``:
    the row rules reject the record."""
    cols = ctx.feeds.counted
    if not cols:
        return pl.DataFrame(schema=COUNT_SCHEMA), pl.Series(CLEARED, [None] * frame.height, dtype=pl.String)
    aggs = []
    for k in range(len(cols)):
        has, arr, why = pl.col(f"__has{k}"), pl.col(f"__arr{k}"), pl.col(f"__why{k}")
        aggs += [has.sum().alias(f"{k}|source"), (has & rejected).sum().alias(f"{k}|rejected"),
                 (has & ~rejected & arr).sum().alias(f"{k}|landed"),
                 (has & ~rejected & ~arr & why.is_null()).sum().alias(f"{k}|lost")]
    wide = frame.select(aggs)
    why_rows = [frame.lazy().filter(pl.col(f"__has{k}") & ~rejected & ~pl.col(f"__arr{k}")
                                    & pl.col(f"__why{k}").is_not_null())
                .group_by(f"__why{k}").len().select(pl.lit(str(k)).alias("k"), pl.col(f"__why{k}").alias("rule"),
                                                    pl.col("len").cast(pl.Int64).alias("n"))
                for k in range(len(cols))]
    long = [{"column": cols[int(name.split("|")[0])], "bucket": name.split("|")[1], "n": int(v)}
            for name, v in wide.row(0, named=True).items()]
    cleared = pl.concat(why_rows, how="vertical").collect()
    long += [{"column": cols[int(r["k"])], "bucket": f"cleared:{r['rule']}", "n": r["n"]}
             for r in cleared.iter_rows(named=True)]
    marks = frame.select(pl.concat_str([pl.when(pl.col(f"__why{k}").is_not_null() & ~pl.col(f"__arr{k}"))
                                        .then(pl.lit(f"{k}:") + pl.col(f"__why{k}")) for k in range(len(cols))],
                                       separator=";", ignore_nulls=True).alias(CLEARED)).to_series()
    marks = pl.select(pl.when(marks != "").then(marks)).to_series().alias(CLEARED)
    return pl.DataFrame(long, schema=COUNT_SCHEMA), marks


def item_counts(ctx: Context, frame: pl.DataFrame, rejected: pl.Expr) -> pl.DataFrame:
    """Per landed item: how many candidate records hold a value (checked against the output)."""
    items = [it.id for it in ctx.landed_items]
    if not items:
        return pl.DataFrame(schema={"item": pl.String, "n": pl.Int64})
    row = frame.select([(~rejected & pl.col(i).is_not_null()).sum().alias(i) for i in items]).row(0, named=True)
    return pl.DataFrame({"item": list(row), "n": [int(v) for v in row.values()]},
                        schema={"item": pl.String, "n": pl.Int64})


def removed_counts(ctx: Context, rows: pl.DataFrame, fate: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The values and item counts of candidate records the set-level rules took out (``fate``:
    merged or rejected), recounted from their staged rows: these move out of landed."""
    cols = ctx.feeds.counted
    long = []
    for k, c in enumerate(cols):
        a = arrived(ctx, c)
        mark = pl.col(CLEARED).str.split(";").list.eval(pl.element().str.starts_with(f"{k}:")).list.any().fill_null(
            False)
        rule = pl.col(CLEARED).str.extract(rf"(?:^|;){k}:([^;]+)")
        got = rows.select(a.sum().alias("arrived"), mark.sum().alias("cleared")).row(0, named=True)
        long += [{"column": c, "bucket": fate, "n": int(got["arrived"] + got["cleared"])},
                 {"column": c, "bucket": "landed", "n": -int(got["arrived"])}]
        for r in rows.filter(mark).group_by(rule.alias("rule")).len().iter_rows(named=True):
            long.append({"column": c, "bucket": f"cleared:{r['rule']}", "n": -int(r["len"])})
    items = [it.id for it in ctx.landed_items]
    counts = rows.select([pl.col(i).is_not_null().sum().alias(i) for i in items]).row(0, named=True) if items else {}
    return (pl.DataFrame(long, schema=COUNT_SCHEMA),
            pl.DataFrame({"item": list(counts), "n": [-int(v) for v in counts.values()]},
                         schema={"item": pl.String, "n": pl.Int64}))


def removed_parts(run_files: dict, resolved) -> tuple[list[pl.DataFrame], list[pl.DataFrame]]:
    """The value and item counts the set-level rules move out of landed: merged records and
    records rejected by a duplicate conflict or a household rule (``run_files``: file index ->
    its Context)."""
    fates = [resolved.decisions.select("_rid", pl.when(pl.col("decision") == "merged").then(pl.lit("merged"))
                                       .otherwise(pl.lit("rejected")).alias("fate")),
             resolved.findings.filter(pl.col("level") == "error").select("_rid", pl.lit("rejected").alias("fate"))]
    fates = pl.concat(fates, how="vertical").unique("_rid", keep="first")
    if not fates.height:
        return [], []
    rows = resolved.rows.filter(pl.col("_rid").is_in(fates["_rid"].implode())).collect().join(fates, on="_rid")
    values, items = [], []
    for (file_index, fate), part in rows.group_by("_file", "fate"):
        v, i = removed_counts(run_files[file_index], part, fate)
        values.append(v.with_columns(pl.lit(file_index, pl.Int32).alias("_file")))
        items.append(i.with_columns(pl.lit(resolved.table.id).alias("table")))
    return values, items


def flows(contexts: dict[int, tuple[str, Context]], value_parts: list[pl.DataFrame], item_parts: list[pl.DataFrame],
          landed: dict[str, dict[str, int]]) -> tuple[list[dict], list[str]]:
    """Each column's value flow (source = landed + rejected + merged + cleared by rule), and the
    problems: a lost value, or an item whose landed Parquet holds fewer values than its staged
    records (``landed``: table -> item -> non-null values read back from the written Parquet)."""
    counts = (pl.concat(value_parts, how="vertical") if value_parts
              else pl.DataFrame(schema={**COUNT_SCHEMA, "_file": pl.Int32}))
    totals = counts.group_by("_file", "column", "bucket").agg(pl.col("n").sum())
    by = {(r["_file"], r["column"], r["bucket"]): r["n"] for r in totals.iter_rows(named=True)}
    out, problems = [], []
    for index, (display, ctx) in sorted(contexts.items()):
        for use in ctx.feeds.columns:
            flow = {"file": display, "column": use.column, "fate": use.fate, "items": list(use.items),
                    "reason": use.reason or None, "source": by.get((index, use.column, "source"), 0)}
            if use.fate in ("mapped", "kept"):
                cleared = {b.split(":", 1)[1]: n for (i, c, b), n in by.items()
                           if i == index and c == use.column and b.startswith("cleared:") and n}
                flow |= {k: by.get((index, use.column, k), 0) for k in ("landed", "rejected", "merged", "lost")}
                flow["cleared"] = dict(sorted(cleared.items()))
                flow["reconciled"] = flow["lost"] == 0 and flow["source"] == (
                    flow["landed"] + flow["rejected"] + flow["merged"] + sum(cleared.values()))
                if not flow["reconciled"]:
                    problems.append(f"{display}: column {use.column!r}: {flow['source']} non-empty values, but "
                                    f"{flow['landed']} landed + {flow['rejected']} in rejected records + "
                                    f"{flow['merged']} in merged records + {sum(cleared.values())} cleared by a rule; "
                                    f"{flow['lost']} became empty with no rule to say why")
            out.append(flow)
    items = (pl.concat(item_parts, how="vertical").group_by("table", "item").agg(pl.col("n").sum())
             if item_parts else pl.DataFrame(schema={"table": pl.String, "item": pl.String, "n": pl.Int64}))
    for r in items.sort("table", "item").iter_rows(named=True):
        got = landed.get(r["table"], {}).get(r["item"])
        if got is not None and got != r["n"]:
            problems.append(f"{r['table']}.{r['item']}: the landed records held {r['n']} values when staged, but the "
                            f"written Parquet holds {got}")
    return out, problems

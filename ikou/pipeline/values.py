"""Value-level reconciliation (値の照合): every non-empty value of a mapped or kept column ends in
exactly one place, as every record does.

For each column of a file: non-empty source values = values landed + values in rejected records
+ values in merged records + values in excluded records (out of scope) + values cleared by a rule (a value of spaces only trimmed to
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

import numpy as np
import polars as pl

from ikou.cleansing.text import EDGE_SPACES
from ikou.i18n import tr
from ikou.pipeline.feeds import EXTRAS
from ikou.pipeline.stages import Context

CLEARED = "_cleared"  # staged: the columns (index:rule) a rule emptied in a record, ';'-joined
COUNT_SCHEMA = {"column": pl.String, "bucket": pl.String, "n": pl.Int64}
NONE, REJECTED, LANDED, LOST, EXCLUDED, CLEARED_BASE = 0, 1, 2, 3, 4, 10  # a value's state in a chunk


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


def has_blank(ctx: Context, k: int, column: str) -> tuple[pl.Expr, pl.Expr]:
    """The record's value of counted column k is non-empty; it is spaces only."""
    item = ctx.feeds.direct_item(column)
    if item is None:
        return pl.col(f"__has{k}"), pl.col(f"__blank{k}")
    raw = pl.col(f"{item}__raw")
    has = (raw.is_not_null() & (raw != "")).fill_null(False)
    return has, (has & (raw.str.strip_chars(EDGE_SPACES) == "")).fill_null(False)


def _rules(ctx: Context, column: str, frame_columns: set[str]) -> list[tuple[pl.Expr, str]]:
    """The rules that may empty a column's value, each with its condition, in order."""
    use = next(c for c in ctx.feeds.columns if c.column == column)
    splits = {item: j for j, (sp, _) in enumerate(ctx.feeds.splits) for item in sp.items}
    checks: list[tuple[pl.Expr, str]] = []
    for t in use.items:
        for flag, name in ((f"{t}__unmapped", "unmapped_code"), (f"{t}__badint", "invalid_integer"),
                           (f"{t}__baddec", "invalid_decimal"), (f"{t}__badfloat", "invalid_float"),
                           (f"{t}__lookup_miss", "lookup_unmatched")):
            if flag in frame_columns:
                checks.append((pl.col(flag).fill_null(False), name))
        if t in splits:
            checks.append((pl.col(f"__split{splits[t]}__miss").fill_null(False), "split_mismatch"))
    return checks


def chunk_counts(ctx: Context, frame: pl.DataFrame, rejected: pl.Expr,
                 excluded: pl.Expr | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The value counts of one chunk, and ``_cleared`` for the (few) records a rule emptied a
    value of (``_row``, ``_cleared``). ``rejected``: the row rules reject the record.

    Each record's value of each column gets one state (a small integer: none, rejected, landed,
    lost, excluded (``excluded``: out of scope), or cleared by the n-th rule of that column), in
    one pass over the chunk; the states
    are then tallied by a bincount per column."""
    cols = ctx.feeds.counted
    marks_schema = {"_row": pl.Int64, CLEARED: pl.String}
    if not cols:
        return pl.DataFrame(schema=COUNT_SCHEMA), pl.DataFrame(schema=marks_schema)
    names = set(frame.columns)
    states, rule_names = [], []
    for k, c in enumerate(cols):
        has, blank = has_blank(ctx, k, c)
        checks = _rules(ctx, c, names) + [(blank, "trim")]
        rule_names.append([name for _, name in checks])
        state = pl.lit(LOST, pl.UInt8)
        for i, (cond, _) in reversed(list(enumerate(checks))):
            state = pl.when(cond).then(pl.lit(CLEARED_BASE + i, pl.UInt8)).otherwise(state)
        state = (pl.when(~has).then(pl.lit(NONE, pl.UInt8))
                 .when(excluded if excluded is not None else pl.lit(False)).then(pl.lit(EXCLUDED, pl.UInt8))
                 .when(rejected).then(pl.lit(REJECTED, pl.UInt8))
                 .when(arrived(ctx, c)).then(pl.lit(LANDED, pl.UInt8)).otherwise(state))
        states.append(state.alias(f"s{k}"))
    st = frame.select(pl.col("_row"), *states)
    # states tallied by a bincount of each column (UInt8, no nulls: numpy reads polars' buffer as
    # is): an unpivot and group-by of every value cost ~36 ms per 50,000 records, this ~4
    tally = np.stack([np.bincount(st.get_column(f"s{k}").to_numpy(), minlength=256) for k in range(len(cols))])
    counts = []
    for k, i in zip(*np.nonzero(tally)):
        column, i, n = cols[k], int(i), int(tally[k, i])
        if i == NONE:
            continue
        counts.append({"column": column, "bucket": "source", "n": n})
        bucket = {REJECTED: "rejected", LANDED: "landed", LOST: "lost", EXCLUDED: "excluded"}.get(i)
        counts.append({"column": column, "bucket": bucket or f"cleared:{rule_names[k][i - CLEARED_BASE]}", "n": n})
    counts += [{"column": c, "bucket": b, "n": 0} for c in cols
               for b in ("source", "rejected", "landed", "lost", "excluded")]
    cleared_rows = st.filter(pl.any_horizontal([pl.col(f"s{k}") >= CLEARED_BASE for k in range(len(cols))]))
    marks = [(r[0], ";".join(f"{k}:{rule_names[k][v - CLEARED_BASE]}" for k, v in enumerate(r[1:])
                             if v >= CLEARED_BASE)) for r in cleared_rows.iter_rows()]
    return (pl.DataFrame(counts, schema=COUNT_SCHEMA),
            pl.DataFrame({"_row": [m[0] for m in marks], CLEARED: [m[1] for m in marks]}, schema=marks_schema))


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
    its Context). Records out of scope were counted as such per chunk."""
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
    """Each column's value flow (source = landed + rejected + merged + excluded + cleared by rule), and the
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
                flow |= {k: by.get((index, use.column, k), 0)
                         for k in ("landed", "rejected", "merged", "excluded", "lost")}
                flow["cleared"] = dict(sorted(cleared.items()))
                flow["reconciled"] = flow["lost"] == 0 and flow["source"] == (
                    flow["landed"] + flow["rejected"] + flow["merged"] + flow["excluded"] + sum(cleared.values()))
                if not flow["reconciled"]:
                    problems.append(tr("{display}: column {column!r}: {source} non-empty values, but {landed} "
                                       "landed + {rejected} in rejected records + {merged} in merged records + "
                                       "{excluded} in excluded records + {sum} cleared by a rule; {lost} became "
                                       "empty with no rule to say why",
                                       display=display, column=use.column, source=flow['source'],
                                       landed=flow['landed'], rejected=flow['rejected'], merged=flow['merged'],
                                       excluded=flow['excluded'], sum=sum(cleared.values()), lost=flow['lost']))
            out.append(flow)
    items = (pl.concat(item_parts, how="vertical").group_by("table", "item").agg(pl.col("n").sum())
             if item_parts else pl.DataFrame(schema={"table": pl.String, "item": pl.String, "n": pl.Int64}))
    for r in items.sort("table", "item").iter_rows(named=True):
        got = landed.get(r["table"], {}).get(r["item"])
        if got is not None and got != r["n"]:
            problems.append(tr("{table}.{item}: the landed records held {n} values when staged, but the written "
                               "Parquet holds {got}",
                               table=r['table'], item=r['item'], n=r['n'], got=got))
    return out, problems

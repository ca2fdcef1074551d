"""Household rules (世帯): at most one 世帯主 per 世帯 is an error, none is an alert (DOMAIN.md §3).

Only the latest version (個人履歴番号) of each person counts, and only people who are current
residents (the layout's ``active_when``): a former head who moved out is not a second head.
With two or more heads every head is rejected, since choosing one would be a guess.
"""

from __future__ import annotations

import polars as pl

from ikou.exprs import fmt, key_hash, latest_records, repeated_hashes
from ikou.layout import History, HouseholdRule, Reference

FINDING_SCHEMA = {"_rid": pl.Int64, "item": pl.String, "code": pl.String, "level": pl.String,
                  "value": pl.String, "message": pl.String}


def household_findings(rows: pl.LazyFrame, rule: HouseholdRule, where: pl.Expr) -> pl.LazyFrame:
    latest = latest_records(rows, rule.person, rule.version)
    active = latest.filter(pl.all_horizontal([pl.col(k) == v for k, v in rule.active_when]))
    is_head = pl.col(rule.relationship).is_in(list(rule.head_codes))
    per_household = active.group_by(rule.household).agg(heads=is_head.sum(), members=pl.len(),
                                                         first=pl.col("_rid").min()).collect(engine="streaming").lazy()
    # the places of the heads are written out only for the (few) households with several
    heads = active.filter(is_head).join(per_household.filter(pl.col("heads") >= 2), on=rule.household, how="inner")
    places = heads.group_by(rule.household).agg(head_places=where.sort_by("_rid"))
    multi = (heads.join(places, on=rule.household, how="inner")
             .select("_rid", item=pl.lit(rule.relationship), code=pl.lit("multiple_household_heads"),
                     level=pl.lit("error"), value=pl.col(rule.household).cast(pl.String),
                     message=fmt("世帯 {} has {} 世帯主 among its current members ({}): all are "
                                       "rejected for review", pl.col(rule.household), pl.col("heads"),
                                       pl.col("head_places").list.join(", "))))
    none = (per_household.filter(pl.col("heads") == 0)
            .select(pl.col("first").alias("_rid"), item=pl.lit(rule.household), code=pl.lit("household_without_head"),
                    level=pl.lit("alert"), value=pl.col(rule.household).cast(pl.String),
                    message=fmt("世帯 {} has no 世帯主 among its {} current member(s)",
                                      pl.col(rule.household), pl.col("members"))))
    return pl.concat([multi.cast(FINDING_SCHEMA), none.cast(FINDING_SCHEMA)], how="vertical")


def reference_findings(rows: pl.LazyFrame, ref: Reference, known: pl.LazyFrame) -> pl.LazyFrame:
    """Records whose ``ref.items`` name no record of the referenced table (``known``: its keys,
    as text, under the names of ``ref.items``). Records with an empty key are left to the
    required-item check."""
    keyed = rows.filter(pl.all_horizontal([pl.col(i).is_not_null() for i in ref.items]))
    text = [pl.col(i).cast(pl.String) for i in ref.items]
    missing = keyed.with_columns(text).join(known, on=list(ref.items), how="anti")
    value = pl.concat_str(text, separator="+")
    return missing.select(
        "_rid", item=pl.lit(ref.items[0]), code=pl.lit(ref.code), level=pl.lit(ref.level), value=value,
        message=fmt(f"{'+'.join(ref.items)} {{}} is not a {ref.layout}.{ref.table} record of this municipality",
                    value)).cast(FINDING_SCHEMA)


def latest_flag_findings(rows: pl.LazyFrame, history: History) -> pl.LazyFrame:
    """A person whose 最新フラグ disagrees with the order of the records (個人履歴番号, 枝番号): the
    latest record not flagged '1', or an earlier one flagged '1'. An alert on the latest record
    (the export itself is inconsistent; which record is right is for a person to say). A person
    with one record is checked on that record alone; only the records of people with several
    (``repeated_hashes``) are grouped, so no table of every person is held."""
    flag, person = pl.col(history.latest_flag), pl.col(history.person)
    several = key_hash([history.person]).is_in(repeated_hashes(rows, [history.person]).implode())
    alone = (rows.filter(~several & person.is_not_null() & flag.is_not_null() & (flag != "1"))
             .select(history.person, at=pl.col("_rid"), flagged=pl.lit(0, pl.UInt32), records=pl.lit(1, pl.UInt32)))
    history_rows = rows.filter(several)
    latest = latest_records(history_rows.with_columns(pl.lit(True).alias("__latest")), history.person, history.version)
    marked = history_rows.join(latest.select("_rid", "__latest"), on="_rid", how="left").with_columns(
        pl.col("__latest").fill_null(False))
    wrong = (marked.filter(person.is_not_null() & flag.is_not_null())
             .group_by(history.person)
             .agg(bad=((pl.col("__latest") & (flag != "1")) | (~pl.col("__latest") & (flag == "1"))).any(),
                  at=pl.col("_rid").filter(pl.col("__latest")).max(), flagged=(flag == "1").sum().cast(pl.UInt32),
                  records=pl.len().cast(pl.UInt32))
             .filter(pl.col("bad") & pl.col("at").is_not_null()).drop("bad"))
    return pl.concat([alone, wrong], how="vertical").select(
        pl.col("at").alias("_rid"), item=pl.lit(history.latest_flag), code=pl.lit("latest_flag_mismatch"),
        level=pl.lit("alert"), value=person.cast(pl.String),
        message=fmt("最新フラグ of {}: {} of its {} records flagged latest, and not (only) the latest by "
                    f"{'+'.join(history.version)}", person.cast(pl.String),
                    pl.col("flagged"), pl.col("records"))).cast(FINDING_SCHEMA)

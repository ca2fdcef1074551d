"""Exact dedup on the layout's hard keys (住民票コード; 宛名番号 + 個人履歴番号 …).

Records that share a key and have identical landed content are one record exported twice: the
first (lowest file, line) survives, the others are ``merged`` with lineage to it. Records that
share a key but differ are ``duplicate_conflict``: all of them are rejected and kept for review,
since choosing one would be a guess. Conflict wins over merge when keys disagree.
"""

from __future__ import annotations

import polars as pl

from ikou.exprs import fmt, key_hash, repeated_hashes
from ikou.layout import Table

DECISION_SCHEMA = {"_rid": pl.Int64, "decision": pl.String, "survivor_rid": pl.Int64, "message": pl.String}


def exact_duplicates(rows: pl.LazyFrame, table: Table, content: list[str], where: pl.Expr) -> pl.LazyFrame:
    """Decisions for every record in a duplicate group: ``merged`` (with its survivor) or
    ``conflict``. ``where`` renders a record's location (file:line) for messages."""
    names = {it.id: it.name_ja for it in table.items}
    parts = []
    for key in table.duplicate_keys:
        # an empty key never matches, but for the items whose empty value is a value (a 枝番号
        # that a flat export does not carry)
        needed = [k for k in key if k not in table.optional_key_items]
        keyed = rows.filter(pl.all_horizontal([pl.col(k).is_not_null() for k in needed]))
        # only the (few) records whose key occurs more than once are read in full and compared;
        # found by the key's hash first, so no hash table of every key is held
        candidates = keyed.filter(key_hash(key).is_in(repeated_hashes(keyed, key).implode())).select("_rid", *key)
        candidates = candidates.collect(engine="streaming")
        repeated = candidates.group_by(list(key)).agg(pl.len().alias("__n")).filter(pl.col("__n") > 1).select(list(key))
        ids = candidates.join(repeated, on=list(key), how="semi", nulls_equal=True)["_rid"]
        keyed = rows.filter(pl.col("_rid").is_in(ids.implode())).collect().lazy()
        groups = (keyed.group_by(list(key))
                  .agg(n=pl.len(), distinct=pl.struct(content).n_unique(), survivor=pl.col("_rid").min(),
                       members=pl.col("_rid"), places=where.sort_by("_rid"))
                  .filter(pl.col("n") > 1))
        conflicts = groups.filter(pl.col("distinct") > 1).select(list(key))
        compared = [c for c in content if c not in key]
        differing = (keyed.join(conflicts, on=list(key), how="semi", nulls_equal=True).group_by(list(key))
                     .agg([(pl.col(c).n_unique() > 1).alias(c) for c in compared]))
        differing = differing.select(*key, diff=pl.concat_str(
            [pl.when(pl.col(c)).then(pl.lit(c)) for c in compared], separator=", ", ignore_nulls=True))
        label = "+".join(names[k] for k in key)
        parts.append(
            groups.join(differing, on=list(key), how="left", nulls_equal=True)
            .with_columns(message=pl.when(pl.col("distinct") > 1).then(fmt(
                f"{label} ({{}}) is shared by records {{}} whose content differs in: {{}}; all are kept "
                "for review", pl.concat_str([pl.col(k).cast(pl.String) for k in key], separator="/", ignore_nulls=True),
                pl.col("places").list.join(", "), pl.col("diff"))))
            .select("members", "distinct", "survivor", "message").explode("members"))
    if not parts:
        return pl.LazyFrame(schema=DECISION_SCHEMA)
    found = pl.concat(parts, how="vertical")
    return (found.group_by("members")
            .agg(conflict=(pl.col("distinct") > 1).any(), survivor=pl.col("survivor").min(),
                 message=pl.col("message").drop_nulls().first())
            .filter(pl.col("conflict") | (pl.col("members") != pl.col("survivor")))
            .select(pl.col("members").alias("_rid"),
                    pl.when(pl.col("conflict")).then(pl.lit("conflict")).otherwise(pl.lit("merged")).alias("decision"),
                    pl.when(~pl.col("conflict")).then(pl.col("survivor")).alias("survivor_rid"),
                    "message")
            .cast(DECISION_SCHEMA))

"""The auto-merge policy (dedup.auto_merge_requires, docs/dedup.md): facts of a scored pair —
corroboration such as the same address, evidence against such as two 住民票コード — and what
they allow: a pair at or above auto_merge merges unasked only with one fact of ``any_of`` and
none of ``none_of``; a cluster holding a contradicted pair is not merged at all."""

from __future__ import annotations

import polars as pl

from ikou.mapping import DedupSettings

# What the auto-merge policy reads (dedup.auto_merge_requires): facts of a pair, each both sides given
FACTS = {"same_address": ("address_key", "=="), "same_phone": ("phone_key", "=="),
         "same_household": ("household", "=="), "same_identifier": ("identifier", "=="),
         "same_family_register": ("register_key", "=="),
         "different_phone": ("phone_key", "!="), "different_identifier": ("identifier", "!="),
         "different_sex": ("sex", "!=")}


def pair_facts(pairs: pl.DataFrame, frame: pl.DataFrame) -> pl.DataFrame:
    """The policy's facts as boolean columns (``fact_<name>``), from the match keys of both
    sides; a key the layout does not have makes its facts false. ``different_birth_date``: the
    birth comparison's "all other" level (not equal, not swapped, more than one digit apart)."""
    keys = sorted({k for k, _ in FACTS.values() if k in frame.columns})
    side = {lr: frame.select(pl.col("unique_id").alias(f"unique_id_{lr}"), *[pl.col(k).alias(f"{k}_{lr}") for k in keys])
            for lr in ("l", "r")}
    joined = pairs.join(side["l"], on="unique_id_l", how="left").join(side["r"], on="unique_id_r", how="left")
    facts = []
    for name, (key, op) in FACTS.items():
        if key not in keys:
            facts.append(pl.lit(False).alias(f"fact_{name}"))
            continue
        l, r = pl.col(f"{key}_l"), pl.col(f"{key}_r")
        facts.append((l.is_not_null() & r.is_not_null() & ((l == r) if op == "==" else (l != r))).alias(f"fact_{name}"))
    birth = (pl.col("gamma_birth") == 0) if "gamma_birth" in pairs.columns else pl.lit(False)
    facts.append(birth.fill_null(False).alias("fact_different_birth_date"))
    return joined.with_columns(facts).drop([f"{k}_{lr}" for k in keys for lr in ("l", "r")])


def corroborated(settings: DedupSettings) -> pl.Expr:
    """True where a pair has corroboration (one of ``auto_merge_requires.any_of``, or none asked)."""
    return (pl.any_horizontal([pl.col(f"fact_{f}") for f in settings.requires_any])
            if settings.requires_any else pl.lit(True))


def policy_ok(settings: DedupSettings) -> pl.Expr:
    """True where ``auto_merge_requires`` lets a pair merge without review."""
    return corroborated(settings) & ~contradicted(settings)


def contradicted(settings: DedupSettings) -> pl.Expr:
    """True where a pair has evidence against it (one of ``auto_merge_requires.none_of``)."""
    return (pl.any_horizontal([pl.col(f"fact_{f}") for f in settings.requires_none]).fill_null(False)
            if settings.requires_none else pl.lit(False))


def policy_note(settings: DedupSettings) -> pl.Expr:
    """Why a pair at or above auto_merge was held for review (null where the policy allows it)."""
    against = [pl.when(pl.col(f"fact_{f}")).then(pl.lit(f)) for f in settings.requires_none]
    parts = [*against, pl.when(~corroborated(settings)).then(pl.lit("no " + " / ".join(settings.requires_any)))]
    note = pl.concat_str(parts, separator=", ", ignore_nulls=True)
    return pl.when(note != "").then(note)

"""Probable duplicates (名寄せ): one person registered twice under variants, found with splink.

Exact copies are handled by ``dedup.exact_duplicates``; this stage finds the same person under
a different 宛名番号 with a variant character (髙橋/高橋), the reading in the other kana width,
a moved address, a typo in the reading, day and month of birth swapped or a missing phone.

The shape (each step a function, the whole a pipeline):

1. ``match_frame``: one row per person (the latest version represents its history), with
   derived match keys (``match_keys``): folded name and reading, birth date and its day/month
   swap, address key, phone key. Landed values are never changed.
2. ``splink_model.score_pairs``: a Fellegi-Sunter model in splink, on DuckDB (or Spark, by configuration):
   blocking rules generate candidate pairs, the model is trained without labels (u by random
   sampling, m by expectation maximisation on two independent blockings), and every pair at or
   above the review threshold is scored, keeping each comparison's level and weight (the
   evidence) and the facts the merge policy reads (``merge_policy.pair_facts``). A comparison
   level never seen in training gets the Bayes factor of "all other" (it proves nothing).
3. ``resolve_pairs``: people's decisions (``review_decisions``) override the model (``same``
   joins, ``different`` separates); pairs at or above ``auto_merge`` that the policy
   (``dedup.auto_merge_requires``) allows are clustered (connected components); a cluster
   holding a ``different`` decision or a contradicted pair is not merged but queued for review.
   In each cluster the earliest record survives; the other persons' records (every version) are
   merged into it with lineage. The other pairs from ``review`` up form the review queue.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from ikou.cleansing.match_keys import address_key, kana_key, name_key, phone_key
from ikou.cleansing.merge_policy import contradicted, policy_note, policy_ok
from ikou.cleansing.review_decisions import pair_key
from ikou.exprs import fmt, latest_records
from ikou.layout import MatchingRoles
from ikou.mapping import DedupSettings

MERGE_SCHEMA = {"_rid": pl.Int64, "decision": pl.String, "survivor_rid": pl.Int64, "message": pl.String,
                "reason": pl.String, "match_probability": pl.Float64}
SPACE = "[ \u3000]"


@dataclass(frozen=True)
class Resolution:
    merges: pl.DataFrame  # MERGE_SCHEMA: every record merged into a survivor
    review: pl.DataFrame  # pairs for people to decide (unique ids, probability, why)
    decisions_used: dict[str, int]  # same / different / stale (persons no longer both present)
    clusters: int  # clusters of two or more persons merged


# -- 1. the match frame ----------------------------------------------------------------------------

def match_frame(rows: pl.LazyFrame, roles: MatchingRoles) -> pl.DataFrame:
    """One row per person: ``unique_id`` (the representative record's _rid), ``person`` and the
    match keys of the roles the layout names."""
    latest = latest_records(rows, roles.person, roles.version)
    latest = latest.filter(pl.col("_rid") == pl.col("_rid").min().over(roles.person))
    name = pl.col(roles.name)
    cols = [pl.col("_rid").alias("unique_id"), pl.col(roles.person).cast(pl.String).alias("person"),
            name_key(name).alias("name_key"),
            name_key(name.str.replace(f"{SPACE}.*$", "")).alias("surname_key")]
    if roles.reading:
        reading = pl.col(roles.reading)
        cols += [kana_key(reading).alias("kana_key"),
                 kana_key(reading.str.replace(f"{SPACE}.*$", "")).alias("kana_surname")]
    if roles.birth_date:
        b = pl.col(roles.birth_date)
        swapped = pl.when(b.dt.day() <= 12).then(pl.date(b.dt.year(), b.dt.day(), b.dt.month()))
        cols += [b.cast(pl.String).alias("birth_date"), b.dt.year().cast(pl.String).alias("birth_year"),
                 swapped.cast(pl.String).alias("birth_swapped")]
    if roles.sex:
        cols.append(pl.col(roles.sex).cast(pl.String).alias("sex"))
    # the address and 本籍 keys take a dozen regular-expression passes each; a city's residents
    # share addresses and 本籍 (one in 5-50 is distinct): folded once per distinct value, joined back
    once: list[tuple[str, str, Callable[[pl.Expr], pl.Expr]]] = []  # (raw column, key column, fold)
    if roles.address:
        once += [(f"__address{i}", f"__address{i}_key", address_key) for i in range(len(roles.address))]
        cols += [pl.col(a).cast(pl.String).alias(f"__address{i}") for i, a in enumerate(roles.address)]
    if roles.household:
        cols.append(pl.col(roles.household).cast(pl.String).alias("household"))
    present = set(rows.collect_schema().names())
    cols += _other_name_keys(roles, present)
    if roles.identifier and roles.identifier in present:
        ident = pl.col(roles.identifier).cast(pl.String).str.strip_chars()
        cols.append(pl.when(ident != "").then(ident).alias("identifier"))
    registers = [c for c in roles.family_register if c in present]
    if not (registers and registers[0] == roles.family_register[0]):
        registers = []
    # 本籍 (then 筆頭者): numbers and 異体字 folded as in addresses and names; no 本籍, no key
    once += [(f"__register{i}", f"__register{i}_key", lambda e: address_key(name_key(e))) for i in range(len(registers))]
    cols += [pl.col(c).cast(pl.String).alias(f"__register{i}") for i, c in enumerate(registers)]
    if roles.phone:
        ph = phone_key(pl.col(roles.phone))
        cols += [ph.alias("phone_key"), pl.when(ph.str.contains("^0[789]0")).then(ph).alias("mobile_key")]
    frame = latest.select(cols).collect()
    for raw, key, fold in once:
        values = frame.select(pl.col(raw).unique().drop_nulls())
        frame = frame.join(values.with_columns(fold(pl.col(raw)).alias(key)), on=raw, how="left")
    keys = []
    if roles.address:
        joined = pl.concat_str([pl.col(f"__address{i}_key").fill_null("") for i in range(len(roles.address))],
                               separator="|")
        keys.append(pl.when(joined.str.replace_all(r"\|", "") != "").then(joined).alias("address_key"))
    if registers:
        parts = [pl.col(f"__register{i}_key").fill_null("") for i in range(len(registers))]
        keys.append(pl.when(parts[0] != "").then(pl.concat_str(parts, separator="|")).alias("register_key"))
    # each key where it always was: address_key before household, register_key before the phone
    order = []
    for c in frame.columns:
        if c == "__address0":
            order.append("address_key")
        elif c == "__register0":
            order.append("register_key")
        elif not c.startswith("__"):
            order.append(c)
    return frame.with_columns(keys).select(order).sort("unique_id")


def _other_name_keys(roles: MatchingRoles, present: set[str]) -> list[pl.Expr]:
    """The person's other registered names as match keys: ``alt_name_<i>`` (旧氏 + 名, 通称,
    ローマ字氏名) and ``alt_kana_<i>`` (旧氏カナ + 名カナ, 通称カナ); a second registration
    under one of them is found by them (blocking) and scored as such (a level of its own)."""
    def given(e: pl.Expr) -> pl.Expr:  # the part after the first space: 名
        return pl.when(e.str.contains(SPACE)).then(e.str.replace(f"^.*?{SPACE}", ""))
    names, readings = [], []
    if roles.former_surname in present:
        names.append(pl.col(roles.former_surname) + given(pl.col(roles.name)))
        if roles.former_surname_reading in present and roles.reading:
            readings.append(pl.col(roles.former_surname_reading) + given(pl.col(roles.reading)))
    names += [pl.col(c) for c in roles.other_names if c in present]
    readings += [pl.col(c) for c in roles.other_readings if c in present]
    return ([name_key(e.cast(pl.String)).alias(f"alt_name_{i}") for i, e in enumerate(names)]
            + [kana_key(e.cast(pl.String)).alias(f"alt_kana_{i}") for i, e in enumerate(readings)])



# -- 3. decisions, clusters, survivors ---------------------------------------------------------------

def connected_components(edges: pl.DataFrame) -> pl.DataFrame:
    """node -> cluster (its smallest member) for an edge list (a, b): splink's own clustering
    (connected components in DuckDB), every edge a match (the thresholds were applied before)."""
    from splink import DuckDBAPI
    from splink.clustering import cluster_pairwise_predictions_at_threshold

    nodes = pl.concat([edges["a"], edges["b"]]).unique().sort().to_frame("node")
    clustered = cluster_pairwise_predictions_at_threshold(nodes.to_arrow(), edges.select("a", "b").to_arrow(),
                                                          DuckDBAPI(), "node", "a", "b")
    return (clustered.as_duckdbpyrelation().pl()
            .select(pl.col("node").cast(pl.Int64), pl.col("cluster_id").cast(pl.Int64).alias("cluster")))


def resolve_pairs(frame: pl.DataFrame, scored: pl.DataFrame, decisions: pl.DataFrame, rows: pl.DataFrame,
                  roles: MatchingRoles, settings: DedupSettings) -> Resolution:
    """Merge decisions for every record, and the review queue. ``rows``: _rid and the person id
    column of every candidate record (all versions)."""
    persons = frame.select("unique_id", "person")
    sure = (pl.col("match_probability") >= settings.auto_merge) & policy_ok(settings)
    pairs = (scored.select("unique_id_l", "unique_id_r", "match_probability", "match_weight", pl.col("^fact_.*$"))
             .with_columns(sure=sure.fill_null(False),
                           held_by_policy=pl.when(pl.col("match_probability") >= settings.auto_merge)
                           .then(policy_note(settings)))
             .join(persons.rename({"unique_id": "unique_id_l", "person": "person_l"}), on="unique_id_l")
             .join(persons.rename({"unique_id": "unique_id_r", "person": "person_r"}), on="unique_id_r")
             .with_columns(pair_key=pair_key(pl.col("person_l"), pl.col("person_r"))))
    # decisions name pairs by person ids; those whose persons are not both here any more are stale
    parts = decisions.with_columns(pa=pl.col("pair_key").str.split("~").list.get(0, null_on_oob=True),
                                   pb=pl.col("pair_key").str.split("~").list.get(1, null_on_oob=True))
    usable = (parts.join(persons.rename({"unique_id": "ua", "person": "pa"}), on="pa", how="inner")
              .join(persons.rename({"unique_id": "ub", "person": "pb"}), on="pb", how="inner"))
    used = {"same": usable.filter(pl.col("decision") == "same").height,
            "different": usable.filter(pl.col("decision") == "different").height,
            "stale": decisions.height - usable.height}
    different = usable.filter(pl.col("decision") == "different")
    same = usable.filter(pl.col("decision") == "same").select(
        a="ua", b="ub", pair_key="pair_key", match_probability=pl.lit(1.0), reason=pl.lit("reviewed_duplicate"))
    # at or above auto_merge, and what auto_merge_requires asks for (corroboration, nothing against)
    auto = (pairs.filter(pl.col("sure") & ~pl.col("pair_key").is_in(different["pair_key"].implode()))
            .select(a="unique_id_l", b="unique_id_r", pair_key="pair_key", match_probability="match_probability",
                    reason=pl.lit("probable_duplicate")))
    edges = pl.concat([same, auto], how="vertical").unique("pair_key", keep="first", maintain_order=True)
    clusters = (connected_components(edges.select("a", "b")) if edges.height
                else pl.DataFrame(schema={"node": pl.Int64, "cluster": pl.Int64}))
    # a cluster that joins two persons someone said are different, or two whose own pair has
    # evidence against it (auto_merge_requires.none_of: another birth date, another 住民票コード),
    # is not merged: a chain of sure pairs does not outweigh a contradiction; it goes to review.
    # A person's "same" on such a pair outranks the contradiction.
    against = (pairs.filter(contradicted(settings) & ~pl.col("pair_key").is_in(same["pair_key"].implode()))
               .select(ua="unique_id_l", ub="unique_id_r"))
    apart = pl.concat([different.select("ua", "ub"), against], how="vertical")
    blocked = (apart.join(clusters.rename({"node": "ua", "cluster": "ca"}), on="ua")
               .join(clusters.rename({"node": "ub", "cluster": "cb"}), on="ub")
               .filter(pl.col("ca") == pl.col("cb")).select(cluster="ca").unique())
    merging = clusters.join(blocked, on="cluster", how="anti")
    # how each merged person joined: its strongest edge, and whether a person decided it
    touching = pl.concat([edges.select(node="a", p="match_probability", reason="reason"),
                          edges.select(node="b", p="match_probability", reason="reason")])
    strength = touching.group_by("node").agg(p=pl.col("p").max(),
                                             reviewed=(pl.col("reason") == "reviewed_duplicate").any())
    merged_persons = (merging.filter(pl.col("node") != pl.col("cluster"))
                      .join(persons.rename({"unique_id": "node"}), on="node")
                      .join(strength, on="node", how="left")
                      .join(persons.rename({"unique_id": "cluster", "person": "survivor_person"}), on="cluster"))
    merges = (rows.join(merged_persons.select("person", "cluster", "p", "reviewed", "survivor_person"),
                        left_on=roles.person, right_on="person")
              .select("_rid", decision=pl.lit("merged"), survivor_rid="cluster",
                      message=fmt("probably the same person as {} {} (match probability {})",
                                  pl.lit(roles.person), pl.col("survivor_person"), pl.col("p").round(6)),
                      reason=pl.when(pl.col("reviewed")).then(pl.lit("reviewed_duplicate"))
                      .otherwise(pl.lit("probable_duplicate")),
                      match_probability="p")
              .cast(MERGE_SCHEMA).sort("_rid"))
    # the queue: undecided pairs not sure enough to merge (below auto_merge, or held by the policy)
    # that no merge already joined, and every pair of a cluster held back by a "different" decision
    held = clusters.join(blocked, on="cluster", how="semi").select(pl.col("node").alias("unique_id_l"))
    review = (pairs.filter(~pl.col("pair_key").is_in(usable["pair_key"].implode()))
              .join(merging.rename({"node": "unique_id_l", "cluster": "cl"}), on="unique_id_l", how="left")
              .join(merging.rename({"node": "unique_id_r", "cluster": "cr"}), on="unique_id_r", how="left")
              .with_columns(joined=(pl.col("cl") == pl.col("cr")).fill_null(False),
                            held=pl.col("unique_id_l").is_in(held["unique_id_l"].implode()))
              .filter((~pl.col("sure") & ~pl.col("joined")) | pl.col("held"))
              .drop("cl", "cr", "joined", "sure")
              .sort(["match_probability", "pair_key"], descending=[True, False]))
    n_clusters = merging.select(pl.col("cluster").n_unique()).item() if merging.height else 0
    return Resolution(merges=merges, review=review, decisions_used=used, clusters=n_clusters)

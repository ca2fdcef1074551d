"""Probable duplicates (名寄せ): one person registered twice under variants, found with splink.

Exact copies are handled by ``dedup.exact_duplicates``; this stage finds the same person under
a different 宛名番号 with a variant character (髙橋/高橋), the reading in the other kana width,
a moved address, a typo in the reading, day and month of birth swapped or a missing phone.

The shape (each step a function, the whole a pipeline):

1. ``match_frame``: one row per person (the latest version represents its history), with
   derived match keys (``match_keys``): folded name and reading, birth date and its day/month
   swap, address key, phone key. Landed values are never changed.
2. ``score_pairs``: a Fellegi-Sunter model in splink, on DuckDB (or Spark, by configuration):
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

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from ikou.cleansing.match_keys import address_key, kana_key, name_key, phone_key
from ikou.cleansing.merge_policy import contradicted, pair_facts, policy_note, policy_ok
from ikou.cleansing.review_decisions import pair_key
from ikou.cleansing.splink_backends import db_api
from ikou.exprs import fmt, latest_records
from ikou.layout import MatchingRoles
from ikou.mapping import DedupSettings

log = logging.getLogger("ikou")

PAIR_SCHEMA = {"unique_id_l": pl.Int64, "unique_id_r": pl.Int64, "match_probability": pl.Float64,
               "match_weight": pl.Float64}
MERGE_SCHEMA = {"_rid": pl.Int64, "decision": pl.String, "survivor_rid": pl.Int64, "message": pl.String,
                "reason": pl.String, "match_probability": pl.Float64}
SPACE = "[ \u3000]"


@dataclass(frozen=True)
class Scored:
    """splink's output: pairs at or above the review threshold, the trained model (JSON-able
    dict) and how the comparisons were labelled (for the review queue)."""
    pairs: pl.DataFrame  # unique_id_l, unique_id_r, match_probability, match_weight, gamma_<comparison>
    model: dict
    labels: dict[str, dict[int, str]] = field(default_factory=dict)  # comparison -> gamma -> label
    untrained: tuple[str, ...] = ()  # training rules that found nothing to learn from


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


# -- 2. scoring with splink ------------------------------------------------------------------------

def _name_comparison(columns: set[str]):
    """氏名 and フリガナ as one comparison: two strangers with one name almost always share its
    reading too, so counting name and reading as independent evidence would count one
    coincidence twice. An exact name carries the weight its frequency allows (term-frequency
    adjustment): a common 氏名 agreeing says less than a rare one."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    alt = [*sorted(c for c in columns if c.startswith("alt_name_")),
           *sorted(c for c in columns if c.startswith("alt_kana_"))]
    levels = [cll.NullLevel("name_key")]
    similar = [cll.JaroWinklerLevel("name_key", 0.9)]
    if "kana_key" in columns:
        # the name's frequency adjusts the level where it is the whole story; its own u is the
        # base (splink would otherwise take the u of another level on name_key)
        levels += [cll.And(cll.ExactMatchLevel("name_key"), cll.ExactMatchLevel("kana_key"))
                   .configure(tf_adjustment_column="name_key", disable_tf_exact_match_detection=True,
                              label_for_charts="name and reading exact"),
                   cll.ExactMatchLevel("name_key").configure(label_for_charts="name exact, reading differs"),
                   cll.ExactMatchLevel("kana_key").configure(label_for_charts="reading exact, name differs")]
        similar += [cll.DamerauLevenshteinLevel("kana_key", 1), cll.JaroWinklerLevel("kana_key", 0.9)]
    else:
        levels.append(cll.ExactMatchLevel("name_key").configure(tf_adjustment_column="name_key"))
    if alt:
        base = {a: "name_key" if a.startswith("alt_name_") else "kana_key" for a in alt}
        sql = " or ".join(f"({base[a]}_l = {a}_r or {a}_l = {base[a]}_r)" for a in alt)
        levels.append(cll.CustomLevel(sql, label_for_charts="the other's 旧氏, 通称 or ローマ字 name"))
    levels += [cll.Or(*similar).configure(label_for_charts="name or reading close (one edit, Jaro-Winkler >= 0.9)"),
               cll.ElseLevel()]
    return cl.CustomComparison(output_column_name="name", comparison_description="氏名・フリガナ (variants folded)",
                               comparison_levels=levels)


def _comparisons(columns: set[str]) -> list:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    comps = [_name_comparison(columns)]
    if "birth_date" in columns:
        comps.append(cl.CustomComparison(output_column_name="birth", comparison_description="生年月日",
                                         comparison_levels=[
                                             cll.NullLevel("birth_date"),
                                             cll.ExactMatchLevel("birth_date"),
                                             cll.CustomLevel("birth_swapped_l = birth_date_r or "
                                                             "birth_date_l = birth_swapped_r",
                                                             label_for_charts="day and month swapped"),
                                             cll.LevenshteinLevel("birth_date", 1),
                                             cll.ElseLevel()]))
    if "sex" in columns:
        comps.append(cl.ExactMatch("sex"))
    # household, address and phone in one comparison: a shared household, address and landline
    # all say "same family", and counting them as independent evidence would merge family
    # members; as levels of one comparison EM learns what each says (a shared 世帯 is family)
    contact = []
    if "mobile_key" in columns:
        contact.append(cll.ExactMatchLevel("mobile_key").configure(label_for_charts="same mobile phone"))
    if "household" in columns:
        contact.append(cll.ExactMatchLevel("household").configure(label_for_charts="same household"))
    if "address_key" in columns and "phone_key" in columns:
        contact.append(cll.CustomLevel("address_key_l = address_key_r and phone_key_l = phone_key_r",
                                       label_for_charts="same address and phone"))
    if "address_key" in columns:
        contact.append(cll.ExactMatchLevel("address_key").configure(label_for_charts="same address"))
    if "phone_key" in columns:
        contact.append(cll.ExactMatchLevel("phone_key").configure(label_for_charts="same phone"))
        # two different numbers argue against (a duplicate mostly keeps its phone or has none)
        contact.append(cll.CustomLevel("phone_key_l <> phone_key_r", label_for_charts="different phones"))
    if contact:
        comps.append(cl.CustomComparison(output_column_name="contact", comparison_description="住所・電話",
                                         comparison_levels=[*contact, cll.ElseLevel()]))
    if "register_key" in columns:
        # the 戸籍 a person belongs to: family members share it (name and birth tell them apart),
        # strangers almost never; another 本籍 is weak evidence against (転籍, marriage)
        comps.append(cl.CustomComparison(output_column_name="register", comparison_description="本籍・筆頭者",
                                         comparison_levels=[
                                             cll.NullLevel("register_key"),
                                             cll.ExactMatchLevel("register_key").configure(
                                                 label_for_charts="same 本籍 and 筆頭者"),
                                             cll.ElseLevel()]))
    return comps


def _blocking(columns: set[str]) -> tuple[list, list, list]:
    """(rules generating the pairs to score, EM training blockings, deterministic rules)."""
    from splink import block_on

    rules = [block_on("name_key", "birth_year")] if "birth_year" in columns else [block_on("name_key")]
    if "kana_key" in columns and "birth_year" in columns:
        rules.append(block_on("kana_key", "birth_year"))
    if "birth_date" in columns:
        rules.append(block_on("birth_date", "surname_key"))
        if "kana_surname" in columns:
            rules.append(block_on("birth_date", "kana_surname"))
        rules.append("l.name_key = r.name_key and l.birth_swapped = r.birth_date")
    if "address_key" in columns:
        rules.append(block_on("name_key", "address_key"))
    if "mobile_key" in columns:
        rules.append(block_on("mobile_key"))
    for alt in sorted(c for c in columns if c.startswith("alt_name_")):  # registered under another name
        rules += [f"l.name_key = r.{alt}", f"l.{alt} = r.name_key"]
    em = []
    if "birth_date" in columns:
        em.append(block_on("birth_date"))
    em.append(block_on("name_key", "address_key") if "address_key" in columns else block_on("name_key"))
    deterministic = [block_on("name_key", "birth_date") if "birth_date" in columns else block_on("name_key")]
    if "kana_key" in columns and "birth_date" in columns:
        deterministic.append(block_on("kana_key", "birth_date"))
    return rules, em, deterministic


def score_pairs(frame: pl.DataFrame, settings: DedupSettings, comparisons: list | None = None,
                blocking: tuple[list, list, list] | None = None, fault=None, spill: Path | None = None) -> Scored:
    """Train the model on ``frame`` (no labels) and score the pairs the blocking rules generate,
    keeping those at or above the review threshold."""
    from splink import Linker, SettingsCreator

    columns = set(frame.columns)
    if frame.height < 2:
        return Scored(pair_facts(pl.DataFrame(schema=PAIR_SCHEMA), frame), {})
    comparisons = comparisons if comparisons is not None else _comparisons(columns)
    rules, em, deterministic = blocking if blocking is not None else _blocking(columns)
    creator = SettingsCreator(link_type="dedupe_only", unique_id_column_name="unique_id", comparisons=comparisons,
                              blocking_rules_to_generate_predictions=rules,
                              retain_intermediate_calculation_columns=True, retain_matching_columns=False)
    api = db_api(settings.backend, settings.memory_limit, spill)
    table = _register_persons(api, frame, settings.backend, spill)
    quiet = logging.getLogger("splink").level
    logging.getLogger("splink").setLevel(logging.ERROR)  # untrained levels are handled below
    try:
        from splink.internals.exceptions import EMTrainingException  # splink exports no public name for it

        clock = _StepClock()
        linker = Linker(table, creator, log_level=None)
        linker.training.estimate_probability_two_random_records_match(deterministic, recall=0.8)
        clock.step("prior from deterministic rules")
        pairs_total = frame.height * (frame.height - 1) / 2
        start = linker.misc.save_model_to_json()
        if not (start.get("probability_two_random_records_match") or 0) > 0:
            # no deterministic match at all (a clean export): a prior of 0 would end EM in log2(0);
            # floor it at one expected match among all pairs
            start["probability_two_random_records_match"] = min(1 / pairs_total, 0.5)
            linker = Linker(table, start, log_level=None)
        # u needs a sample of random pairs: a twentieth of all pairs is plenty for a small export
        u_pairs = min(settings.max_pairs_u, max(3e5, pairs_total / 20))
        linker.training.estimate_u_using_random_sampling(max_pairs=u_pairs, seed=settings.seed)
        clock.step(f"u from {u_pairs:,.0f} random pairs")
        untrained = []
        for rule in em:
            # a failed EM session leaves the linker without the comparisons it had set aside for
            # its blocking (name and contact on name + address): start again from before it
            before = linker.misc.save_model_to_json()
            try:
                if fault is not None:  # fault injection for tests (RunOptions.fault): an interrupt here
                    fault("training", rule)
                linker.training.estimate_parameters_using_expectation_maximisation(
                    rule, max_pairs=settings.max_pairs_em)
            except EMTrainingException as exc:
                # the one expected failure: a clean export has (almost) no duplicates to learn from
                # on this blocking, so its levels stay as random sampling left them; anything else
                # (an interrupt, a full disk, a bug) ends the run
                linker = Linker(table, before, log_level=None)
                sql = _rule_sql(rule)
                untrained.append(sql)
                log.info("dedup: no training on pairs with %s (%s): too few likely duplicates there",
                         sql, str(exc).splitlines()[0][:120])
            clock.step(f"EM on {_rule_sql(rule)}")
        model = untrained_levels_prove_nothing(linker.misc.save_model_to_json(), u_pairs)
        prior = model.get("probability_two_random_records_match") or 0.0
        model["probability_two_random_records_match"] = min(max(prior, 1 / pairs_total), 0.5)
        model = _rounded(model)
        # the pairs keep each comparison's level and weight: the reviewer's evidence
        model.update(retain_intermediate_calculation_columns=True, retain_matching_columns=True)  # splink keeps
        # the levels (gamma_) and weights (mw_) only with the matching columns; only those two are kept
        linker = Linker(table, model, log_level=None)
        predictions = linker.inference.predict(threshold_match_probability=settings.review)
        pairs = pl.from_arrow(predictions.as_pyarrow_table())
        clock.step(f"{pairs.height:,} pairs scored at or above {settings.review}")
    finally:
        logging.getLogger("splink").setLevel(quiet)
    kept = [c for c in pairs.columns if c.startswith(("gamma_", "mw_"))]
    pairs = pair_facts(pairs.select(*PAIR_SCHEMA, *kept).cast(PAIR_SCHEMA), frame)
    return Scored(pairs, model, level_labels(model), tuple(untrained))


class _StepClock:
    """Seconds of each training and scoring step, logged (``ikou -v``): where 名寄せ spends its time."""

    def __init__(self) -> None:
        self.last = time.perf_counter()

    def step(self, what: str) -> None:
        now = time.perf_counter()
        log.info("dedup: %s: %.1f s", what, now - self.last)
        self.last = now


def _register_persons(api, frame: pl.DataFrame, backend: str, spill: Path | None):
    """The persons as splink's input table. On DuckDB with a spill folder, a view over a Parquet
    copy: handing DuckDB the frame as Arrow would hold a second, larger copy of it (polars' string
    views become Arrow's large strings: 332 MB beside the frame's 170 MB at a million persons) for
    the whole of training and prediction."""
    if backend != "duckdb" or spill is None:
        return api.register(frame.to_arrow(), table_name="ikou_persons")
    spill.mkdir(parents=True, exist_ok=True)
    path = spill / "persons.parquet"
    frame.write_parquet(path)
    quoted = str(path).replace("'", "''")
    api.duckdb_con.execute(f"create or replace view ikou_persons as select * from read_parquet('{quoted}')")
    return api.register("ikou_persons")


def level_labels(model: dict) -> dict[str, dict[int, str]]:
    """comparison -> gamma value -> label. splink numbers a comparison's levels from the top:
    the null level -1, then the first other level highest, down to "all other" = 0."""
    out = {}
    for c in model.get("comparisons", []):
        levels = [lv for lv in c["comparison_levels"] if not lv.get("is_null_level")]
        out[c["output_column_name"]] = {len(levels) - 1 - i: lv.get("label_for_charts", "")
                                        for i, lv in enumerate(levels)} | {-1: "not given"}
    return out


def _rule_sql(rule) -> str:
    try:
        return rule.get_blocking_rule("duckdb").blocking_rule_sql
    except Exception:  # noqa: BLE001 - only for the message
        return str(rule)


def untrained_levels_prove_nothing(model: dict, sampled_pairs: float = 1e6) -> dict:
    """A level EM never saw (no m) gets the Bayes factor of the comparison's "all other" level: a
    similarity nobody observed is no evidence of a match. A level random sampling never hit (no
    u) gets u = 1 / the pairs sampled, the most it can be given what was seen."""
    for comp in model.get("comparisons", []):
        levels = [lv for lv in comp["comparison_levels"] if not lv.get("is_null_level")]
        other = levels[-1]
        m_other, u_other = other.get("m_probability"), other.get("u_probability")
        if not _known(m_other) or not _known(u_other):
            continue
        for lv in levels[:-1]:
            m, u = lv.get("m_probability"), lv.get("u_probability")
            if not _known(u):
                lv["u_probability"] = u = 1 / sampled_pairs
            if not _known(m):
                lv["m_probability"] = m_other * u / u_other
    return model


def _rounded(model: dict, digits: int = 10) -> dict:
    """The trained probabilities to ``digits`` significant digits: DuckDB sums in parallel, so
    training wobbles in the last bits from run to run, and a rerun must give the same weights."""
    def r(x):
        return float(f"{x:.{digits}g}") if isinstance(x, float) and _known(x) else x
    model["probability_two_random_records_match"] = r(model.get("probability_two_random_records_match"))
    for comp in model.get("comparisons", []):
        for lv in comp["comparison_levels"]:
            for key in ("m_probability", "u_probability"):
                if key in lv:
                    lv[key] = r(lv[key])
    return model


def _known(x) -> bool:
    return x is not None and not (isinstance(x, float) and math.isnan(x))


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

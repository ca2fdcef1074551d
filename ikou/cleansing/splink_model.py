"""Step 2 of 名寄せ (``probable``): the Fellegi-Sunter model in splink, trained without labels
and scoring the candidate pairs its blocking rules generate.

Comparisons (name, reading, birth date, address, phone, other names) and blocking rules are
chosen from the columns the match frame holds; u comes from random sampling, m from expectation
maximisation on two independent blockings; a level never seen in training proves nothing. Each
step's seconds are logged (``ikou -v``).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from ikou.cleansing.merge_policy import pair_facts
from ikou.cleansing.splink_backends import db_api
from ikou.mapping import DedupSettings

log = logging.getLogger("ikou")

PAIR_SCHEMA = {"unique_id_l": pl.Int64, "unique_id_r": pl.Int64, "match_probability": pl.Float64,
               "match_weight": pl.Float64}


@dataclass(frozen=True)
class Scored:
    """splink's output: pairs at or above the review threshold, the trained model (JSON-able
    dict) and how the comparisons were labelled (for the review queue)."""
    pairs: pl.DataFrame  # unique_id_l, unique_id_r, match_probability, match_weight, gamma_<comparison>
    model: dict
    labels: dict[str, dict[int, str]] = field(default_factory=dict)  # comparison -> gamma -> label
    untrained: tuple[str, ...] = ()  # training rules that found nothing to learn from


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

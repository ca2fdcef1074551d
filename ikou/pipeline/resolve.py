"""Phase 3, ``resolve``: the set-level rules on the staged rows: exact dedup, probable dedup
(splink), household rules, 最新フラグ and layout references."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import polars as pl

from ikou.cleansing.dedup import exact_duplicates
from ikou.layout import Table
from ikou.pipeline import outputs
from ikou.pipeline.stages import landed_columns, staged_columns
from ikou.pipeline.state import (
    RunState,
    layout_tables,
    log,
    rows_schema,
    scan_work,
    where_label,
    work_files,
    write_manifest,
)
from ikou.pipeline.values import removed_parts
from ikou.report import DedupDecisionsUsed, DedupOutcome
from ikou.scope import SCOPE_RULE
from ikou.validators.household import FINDING_SCHEMA, household_findings, latest_flag_findings, reference_findings


@dataclass(frozen=True)
class Resolved:
    """One table after the set-level rules (frozen: the phase's hand-off to assemble). ``removed`` is collected once, so the outputs built
    from it never re-run the dedup and household joins; it is small against the rows (the records
    the set-level rules took out, and those out of scope), so filtering against it is cheaper than
    joining with every landed id."""
    table: Table
    rows: pl.LazyFrame  # every parsed record of the table's files, in record order
    removed: pl.DataFrame  # _rid of the records the row rules did not reject that do not land, and the excluded
    decisions: pl.DataFrame  # dedup: merged (exact or probable, with reason) / conflict
    findings: pl.DataFrame  # household rules: errors and alerts
    excluded: pl.DataFrame | None = None  # _rid and _scope_rule of the records a scope rule excludes
    review: pl.DataFrame | None = None  # probable duplicates for people to decide (pairs)
    dedup: DedupOutcome | None = None  # what probabilistic dedup did (for the summary)
    model: dict | None = None  # the trained splink model
    # ``rows`` staged file by staged file (name, rows): one chunk each; the names sort in record order
    parts: tuple[tuple[str, pl.LazyFrame], ...] = ()

    @property
    def landed(self) -> pl.LazyFrame:
        return self.landed_of(self.rows)

    def landed_of(self, rows: pl.LazyFrame) -> pl.LazyFrame:
        """The landed records among ``rows`` (``rows`` or one of ``parts``)."""
        # a filter against the few removed ids streams in record order; a join would not
        removed = self.removed["_rid"].implode()
        return rows.filter(pl.col("_reject_code").is_null() & ~pl.col("_rid").is_in(removed))

    @property
    def not_landed(self) -> pl.LazyFrame:
        """_rid of every record of the table that does not land (rejected, merged or excluded; an
        excluded record may carry a row rule's reject code too, hence unique)."""
        return pl.concat([self.rows.filter(pl.col("_reject_code").is_not_null()).select("_rid"),
                          self.removed.lazy()], how="vertical").unique()


def _resolve(run: RunState, table: Table) -> Resolved:
    if run.progress is not None:
        run.progress.phase("resolve {table}", table=table.id)
    kind, schema = f"rows/{table.id}", rows_schema(table)
    rows = scan_work(run, kind, schema)
    parts = tuple((f.name, scan_work(run, kind, schema, [f])) for f in work_files(run, kind))
    # out of the migration's scope (decided per chunk by extract): the set-level rules never see them
    excluded = rows.filter(pl.col(SCOPE_RULE).is_not_null()).select("_rid", SCOPE_RULE).collect()
    candidates = rows.filter(pl.col("_reject_code").is_null() & pl.col(SCOPE_RULE).is_null())
    # two records are copies when every landed column is the same, extras (kept columns) included
    content = [c for c in landed_columns(table) if c != "municipality_code"]
    decisions = exact_duplicates(candidates, table, content, where_label(run)).collect().with_columns(
        reason=pl.when(pl.col("decision") == "merged").then(pl.lit("exact_duplicate")),
        match_probability=pl.lit(None, pl.Float64))
    after = candidates.filter(~pl.col("_rid").is_in(decisions["_rid"].implode()))
    fed = {c for f in run.files if f.source.table == table.id for c in staged_columns(f.context)}
    household = table.household
    if household is not None and not {household.household, household.relationship, household.person} <= fed:
        # a household rule over items the export does not have would compare nulls: not checked
        run.notes.append(f"{table.id}: household rule not checked: "
                         + ", ".join(sorted({household.household, household.relationship, household.person} - fed))
                         + " not provided")
        household = None
    findings = (household_findings(after, household, where_label(run)).collect() if household
                else pl.DataFrame(schema=FINDING_SCHEMA))
    history = table.history
    if history is not None and history.latest_flag in fed and history.person in fed:
        findings = pl.concat([findings, latest_flag_findings(after, history).collect()], how="vertical")
    for j, ref in enumerate(table.references):
        known = run.reference_keys.get((table.id, j))
        if known is not None:
            findings = pl.concat([findings, reference_findings(after, ref, known.lazy()).collect()], how="vertical")
    kept = after.join(findings.lazy().filter(pl.col("level") == "error").select("_rid"), on="_rid", how="anti")
    resolved = Resolved(table, rows, pl.DataFrame(), decisions, findings, excluded=excluded, parts=parts)
    if run.mapping.dedup.probabilistic and table.matching is not None:
        resolved = _probable_duplicates(run, resolved, kept)
    # merged or conflicting duplicates (exact and probable) and records failing a set-level rule
    resolved = replace(resolved, removed=pl.concat(
        [resolved.decisions.select("_rid"), resolved.findings.filter(pl.col("level") == "error").select("_rid"),
         excluded.select("_rid")], how="vertical").unique().sort("_rid"))
    values, items = removed_parts({f.index: f.context for f in run.files}, resolved)
    run.value_parts += values
    run.item_parts += items
    return resolved


def _probable_duplicates(run: RunState, r: Resolved, kept: pl.LazyFrame) -> Resolved:
    """Find one person registered under several 宛名番号 (cleansing/probable.py) among ``kept``, merge
    those the model or a reviewer is sure of (into the decisions), queue the rest for review."""
    from ikou.cleansing.probable import match_frame, resolve_pairs
    from ikou.cleansing.splink_model import score_pairs

    t = time.perf_counter()
    if run.progress is not None:
        run.progress.phase("名寄せ {table}", table=r.table.id)
    roles, settings = r.table.matching, run.mapping.dedup
    frame = match_frame(kept, roles)
    scored = score_pairs(frame, settings, fault=run.opts.fault, spill=run.work / "dedup-spill")
    people = kept.select("_rid", pl.col(roles.person).cast(pl.String)).collect()
    res = resolve_pairs(frame, scored.pairs, run.decisions, people, roles, settings)
    merged = res.merges
    # an exact copy whose survivor is now merged follows it to the final survivor
    hop = merged.select(pl.col("_rid").alias("survivor_rid"), pl.col("survivor_rid").alias("__final"))
    exact = (r.decisions.join(hop, on="survivor_rid", how="left")
             .with_columns(survivor_rid=pl.coalesce("__final", "survivor_rid")).drop("__final"))
    decisions = pl.concat([exact, merged.select(exact.columns)], how="vertical")
    findings = r.findings
    kept = kept.join(merged.lazy().select("_rid"), on="_rid", how="anti")
    if r.table.household is not None and merged.height:
        # a merged person may have headed a household with others in it: check those households again
        hh = r.table.household.household
        touched = (r.rows.join(merged.lazy().select("_rid"), on="_rid", how="semi").select(hh).unique())
        again = household_findings(kept.join(touched, on=hh, how="semi"), r.table.household, where_label(run)).collect()
        new_alerts = again.filter(pl.col("level") == "alert").join(r.findings.select("_rid", "code"),
                                                                  on=["_rid", "code"], how="anti")
        findings = pl.concat([r.findings, new_alerts], how="vertical")
    review = _review_rows(run, r, frame, scored, res.review)
    dedup = DedupOutcome(
        table=r.table.id, backend=settings.backend, persons_compared=frame.height, pairs_scored=scored.pairs.height,
        auto_merge=settings.auto_merge, review=settings.review, merged_records=merged.height,
        merged_persons=people.join(merged.select("_rid"), on="_rid").select(pl.col(roles.person).n_unique()).item(),
        clusters=res.clusters, review_pairs=review.height, decisions=DedupDecisionsUsed(**res.decisions_used),
        training_skipped=tuple(scored.untrained),
        decisions_file=str(settings.decisions) if settings.decisions else None,
        seconds=round(time.perf_counter() - t, 3))
    log.info("dedup: %d persons compared, %d pairs scored, %d records merged, %d pairs for review",
             frame.height, scored.pairs.height, merged.height, review.height)
    return replace(r, decisions=decisions, findings=findings, review=review, model=scored.model, dedup=dedup)

REVIEW_LEAD = outputs.RUN_TABLES["review_queue"]


def _review_rows(run: RunState, r: Resolved, frame: pl.DataFrame, scored, pairs: pl.DataFrame) -> pl.DataFrame:
    """The review queue: each pair's two records side by side (sensitive items masked), what the
    model saw in each comparison, and an empty ``decision`` for a person to fill in."""
    from ikou.masking import mask_expr

    roles = r.table.matching
    items = [i for i in roles.items if i in r.table.item_ids]
    pairs = pairs.join(scored.pairs.select("unique_id_l", "unique_id_r", pl.col("^(gamma|mw)_.*$")),
                       on=["unique_id_l", "unique_id_r"],
                       how="left").with_columns(evidence=evidence(scored, pairs.columns))
    ids = pl.concat([pairs["unique_id_l"], pairs["unique_id_r"]]).unique().implode()
    paths = {f.index: f.display for f in run.files}
    sensitive = {it.id for it in r.table.items if it.sensitive}
    values = (r.rows.filter(pl.col("_rid").is_in(ids))
              .select("_rid", pl.col("_file").replace_strict(paths, return_dtype=pl.String).alias("source_file"),
                      pl.col("_line").alias("source_line"),
                      *[(mask_expr(pl.col(i).cast(pl.String)) if i in sensitive else pl.col(i).cast(pl.String)).alias(i)
                        for i in items])
              .collect())
    cols = ["source_file", "source_line", *items]
    side = [values.rename({c: f"{c}_{k}" for c in cols} | {"_rid": f"unique_id_{lr}"})
            for k, lr in ((1, "l"), (2, "r"))]
    out = (pairs.join(side[0], on="unique_id_l", how="left").join(side[1], on="unique_id_r", how="left")
           .with_columns(run_id=pl.lit(run.run_id), municipality_code=pl.lit(run.mapping.municipality_code),
                         table_id=pl.lit(r.table.id), decision=pl.lit(None, pl.String)))
    return out.select(*REVIEW_LEAD, *[f"{c}_{k}" for c in cols for k in (1, 2)]).cast(REVIEW_LEAD)


def evidence(scored, columns: list[str]) -> pl.Expr:
    """What the model saw in each comparison, with the level's weight (log2 Bayes factor, the
    name frequency's adjustment included), and why a sure pair was held for review:
    ``name: name and reading exact (+9.6); …; held: different_identifier``."""
    parts = []
    for g in [c for c in scored.pairs.columns if c.startswith("gamma_")]:
        comp = g[len("gamma_"):]
        label = pl.col(g).replace_strict(scored.labels.get(comp, {}), default=pl.lit("?"), return_dtype=pl.String)
        weight = pl.col(f"mw_{comp}").fill_null(0.0)
        if f"mw_tf_adj_{comp}" in scored.pairs.columns:
            weight = weight + pl.col(f"mw_tf_adj_{comp}").fill_null(0.0)
        weight = weight.round(1)
        signed = pl.when(weight >= 0).then(pl.lit("+")).otherwise(pl.lit("")) + weight.cast(pl.String)
        parts.append(pl.format("{}: {} ({})", pl.lit(comp), label, signed))
    if "held_by_policy" in columns:
        parts.append(pl.lit("held: ") + pl.col("held_by_policy"))
    return pl.concat_str(parts, separator="; ", ignore_nulls=True) if parts else pl.lit(None, pl.String)


def resolve_all(run: RunState) -> list[Resolved]:
    """Apply the set-level rules (dedup, household, references) to every table. Needs no lock on
    OUT: a group's members resolve at the same time and queue only to land."""
    t = time.perf_counter()
    resolved = [_resolve(run, table) for table in layout_tables(run).values()]
    run.dedup = [r.dedup for r in resolved if r.dedup]
    run.timings["resolve"] = time.perf_counter() - t
    write_manifest(run, "resolved")
    return resolved

"""Phase 5, ``reconcile``: count every fate back from the written outputs; each source record must
be landed, rejected, merged or excluded (out of scope) exactly once, every mapped column's values accounted for, money
summed to the yen. The summary is built here."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import polars as pl

from ikou import __version__
from ikou.extract import FileStats
from ikou.i18n import tr
from ikou.pipeline.assemble import landed_changes
from ikou.pipeline.delta import count_delta
from ikou.pipeline.state import (
    RID_SHIFT,
    RunState,
    config_hashes,
    layout_file,
    layout_tables,
    rows_schema,
    scan_work,
    staged_record_problems,
    write_manifest,
)
from ikou.pipeline.values import flows
from ikou.report import CoverageCount, FileCount, MoneyFlow, RuleCount, RunSummary, path_labels


def reconcile(run: RunState) -> RunSummary:
    """Count every fate back from the written outputs, not from counters kept along the way."""
    t = time.perf_counter()
    out = run.work / "out"
    lineage = pl.scan_parquet(out / "lineage.parquet")
    rejects = pl.scan_parquet(out / "rejects.parquet")
    excluded = pl.scan_parquet(out / "excluded.parquet")
    fates = pl.concat([lineage.select("_rid", "fate"),
                       rejects.select("_rid", pl.lit("rejected").alias("fate")),
                       excluded.select("_rid", pl.lit("excluded").alias("fate"))], how="vertical")
    per_file = (fates.with_columns((pl.col("_rid") // (1 << RID_SHIFT)).cast(pl.Int32).alias("_file"))
                .group_by("_file", "fate").len().collect())
    counts = {(r["_file"], r["fate"]): r["len"] for r in per_file.iter_rows(named=True)}
    problems: list[str] = []
    dup = _repeated_fates(lineage, rejects, excluded)
    if dup.height:
        problems.append(tr("{height} source records have more than one fate (first: _rid {value})",
                           height=dup.height, value=dup['_rid'][0]))
    landed_rows = 0
    for table_id in layout_tables(run):
        files = list((out / "parquet" / table_id).rglob("*.parquet"))
        landed_rows += pl.scan_parquet(files).select(pl.len()).collect().item() if files else 0
    landed_lineage = sum(v for (_, fate), v in counts.items() if fate == "landed")
    if landed_rows != landed_lineage:
        problems.append(tr("landed tables hold {landed_rows} rows but lineage lists {landed_lineage} landed "
                           "records",
                           landed_rows=landed_rows, landed_lineage=landed_lineage))
    files = []
    for f in run.files:
        st: FileStats = f.extractor.stats
        fc = FileCount(path=f.display, sha256=st.sha256, size=st.size, source_records=st.records,
                       landed=counts.get((f.index, "landed"), 0), rejected=counts.get((f.index, "rejected"), 0),
                       merged=counts.get((f.index, "merged"), 0), excluded=counts.get((f.index, "excluded"), 0),
                       skipped_rows=st.skipped_rows,
                       blank_records=st.blank_records, padded_records=st.padded_records,
                       findings=tuple(st.findings), source=f.source.name)
        if not fc.reconciled:
            problems.append(tr("{display}: {source_records} source records but {landed} landed + {rejected} "
                               "rejected + {merged} merged + {excluded} excluded",
                               display=f.display, source_records=fc.source_records, landed=fc.landed,
                               rejected=fc.rejected, merged=fc.merged, excluded=fc.excluded))
        files.append(fc)
    alerts = pl.scan_parquet(out / "alerts.parquet").group_by("alert_code").len().collect()
    reasons = rejects.group_by("reason_code").len().collect()
    merged = (lineage.filter(pl.col("fate") == "merged").group_by("merge_reason").len()
              .sort("merge_reason").collect())
    by_rule = excluded.group_by("scope_rule").len().sort("scope_rule").collect()
    # counted per combination of rules first (a handful), then split: an explode of every
    # changed value's rules held them all (~0.3 GB a million records)
    changes_by_rule = (landed_changes(run).group_by("rules").len().collect()
                       .with_columns(pl.col("rules").str.split("+")).explode("rules")
                       .group_by("rules").agg(pl.col("len").sum()))
    gaiji = pl.read_parquet(out / "gaiji_counts.parquet").group_by("code", "mapped").agg(pl.col("records").sum())
    cov = pl.read_parquet(out / "code_coverage.parquet")
    coverage_counts = []
    for (table_id, item), part in cov.group_by(["code_table", "item"], maintain_order=True):
        unmapped = part.filter(pl.col("status") == "unmapped").sort("records", descending=True)
        coverage_counts.append(CoverageCount(
            code_table=table_id, item=item, used=part.filter(pl.col("status") == "used").height,
            unused=part.filter(pl.col("status") == "unused").height, unmapped=unmapped.height,
            unmapped_codes=tuple((r["legacy_code"], r["records"]) for r in unmapped.iter_rows(named=True))))
    money = _money_totals(run, out, fates)
    landed_values = {}
    for table_id in layout_tables(run):
        files_ = list((out / "parquet" / table_id).rglob("*.parquet"))
        # the items the run's files give values (the others are null by construction, and are
        # not read back: 150 empty columns of a million rows cost a second)
        items = list(dict.fromkeys(it.id for f in run.files if f.source.table == table_id
                                   for it in f.context.landed_items))
        # streaming: the in-memory engine reads every column whole first (9.4 GB at 10M records)
        got = (pl.scan_parquet(files_).select([pl.col(i).is_not_null().sum() for i in items])
               .collect(engine="streaming") if files_ else None)
        landed_values[table_id] = got.row(0, named=True) if got is not None else {i: 0 for i in items}
    # a file two sources read: each source's columns apart, named as the reports name its counts
    names = dict(zip((f.index for f in run.files), path_labels([(f.display, f.source.name) for f in run.files])))
    column_flows, value_problems = flows({f.index: (names[f.index], f.context) for f in run.files}, run.value_parts,
                                         run.item_parts, landed_values)
    problems += value_problems
    problems += staged_record_problems(run)
    delta = count_delta(run.plan.delta_base, out / "delta.parquet",
                        lambda t: sorted((out / "parquet" / t).rglob("*.parquet")), list(layout_tables(run)),
                        run.delta_unchanged)
    problems += delta.problems if delta else []
    run.timings["reconcile"] = time.perf_counter() - t
    m = run.mapping
    summary = RunSummary(
        run_id=run.run_id, tool_version=__version__, municipality_code=m.municipality_code,
        municipality_name=m.municipality_name, layout=m.layout.id, mapping_path=str(run.opts.mapping),
        layout_sha256=m.layout.sha256, layout_file=layout_file(m.layout), overrides=tuple(m.overrides),
        config_sha256=config_hashes(m),
        mapping_sha256=m.sha256, dry_run=run.opts.dry_run or run.opts.out is None, files=tuple(files),
        alerts={r["alert_code"]: r["len"] for r in alerts.iter_rows(named=True)},
        rejects_by_reason={r["reason_code"]: r["len"] for r in reasons.iter_rows(named=True)},
        merged_by_reason={r["merge_reason"]: r["len"] for r in merged.iter_rows(named=True)},
        excluded_by_rule={r["scope_rule"]: r["len"] for r in by_rule.iter_rows(named=True)},
        scope=tuple({"name": r.name, "table": r.table, "description": r.description,
                     "condition": r.describe({it.id: it.name_ja for it in m.layout.tables[r.table].items if it.name_ja})}
                    for r in m.scope),
        dedup=tuple(run.dedup),
        changes_by_rule={r["rules"]: r["len"] for r in changes_by_rule.iter_rows(named=True)},
        coverage=tuple(coverage_counts), reconciliation_problems=tuple(problems),
        gaiji_mapped={r["code"]: r["records"] for r in gaiji.filter(pl.col("mapped")).sort("code").iter_rows(named=True)},
        gaiji_unmapped={r["code"]: r["records"]
                        for r in gaiji.filter(~pl.col("mapped")).sort("code").iter_rows(named=True)},
        gaiji_table=(f"{m.gaiji.path} (version {m.gaiji.version})" if m.gaiji else None),
        notes=tuple(run.notes) + tuple(_unread_notes(run)) + tuple(f"{t}: references {', '.join(m.layout.tables[t].references[j].items)} -> "
                    f"{m.layout.tables[t].references[j].layout}.{m.layout.tables[t].references[j].table} not checked "
                    f"(no --out to read the referenced data from)"
                    for (t, j), keys in sorted(run.reference_keys.items()) if keys is None),
        money=tuple(money), columns=tuple(column_flows),
        not_provided=tuple({"table": s.table, "item": i, "reason": why} for s in m.sources for i, why in s.not_provided),
        constants=tuple({"table": s.table, "item": im.item, "value": im.value} for s in m.sources for im in s.items
                        if im.value is not None),
        thresholds=m.thresholds, rules=_rule_counts(rejects, pl.scan_parquet(out / "alerts.parquet")),
        timings=dict(run.timings), delta=delta)
    (run.work / "summary.json").write_text(summary.to_json(), encoding="utf-8")
    write_manifest(run, "reconciled" if summary.reconciled else "unreconciled")
    return summary


def _repeated_fates(*outputs: pl.LazyFrame) -> pl.DataFrame:
    """The _rids with more than one fate. Each output is written in record order, so their rids
    merged in that order must rise strictly: checked streaming, without a hash table of every
    rid. Rids that do not rise (a repeat, or an output out of order) are counted exactly."""
    merged = outputs[0].select("_rid")
    for other in outputs[1:]:
        merged = merged.merge_sorted(other.select("_rid"), "_rid")
    step = merged.select(pl.col("_rid").diff().min()).collect(engine="streaming").item()
    if step is None or step > 0:  # an interleaving that rises strictly has no rid twice
        return pl.DataFrame(schema={"_rid": pl.Int64, "len": pl.UInt32})
    return (pl.concat([o.select("_rid") for o in outputs], how="vertical")
            .group_by("_rid").len().filter(pl.col("len") > 1).sort("_rid").collect())


def _money_totals(run: RunState, out: Path, fates: pl.LazyFrame) -> list[MoneyFlow]:
    """金額照合: per money item and group (the layout's money_totals_by, e.g. 年度, 税目, 期別), the
    sum over every parsed source record, and over the landed (read back from the written
    Parquet), rejected, merged and excluded ones. source = landed + rejected + merged + excluded
    must hold to the yen.
    Records whose amount is not a whole number are counted (``unparsed``), not summed. Records
    unreadable as a whole (encoding, field count, a bad packed byte) have no amount: they are in no
    sum, source included, so the equation says nothing about them; ``_unread_notes`` says how many
    there are per table, to be compared with the legacy system's own totals."""
    results = []
    for table in layout_tables(run).values():
        items = table.money_items
        if not items:
            continue
        by = list(table.money_totals_by)
        sums = [pl.col(i).cast(pl.Int128).sum().alias(i) for i in items]
        rows = scan_work(run, f"rows/{table.id}", rows_schema(table)).select("_rid", *by, *items)
        source = rows.group_by(by).agg(*sums, *[pl.col(i).is_null().sum().alias(f"{i}__unparsed") for i in items])
        # the (few) records that did not land: no hash table of every landed record's _rid
        by_fate = (rows.join(fates.filter(pl.col("fate").is_in(["rejected", "merged", "excluded"])), on="_rid")
                   .group_by(*by, "fate").agg(*sums))
        files = list((out / "parquet" / table.id).rglob("*.parquet"))
        landed = (pl.scan_parquet(files).group_by(by).agg(*sums) if files
                  else pl.LazyFrame(schema={**{b: rows.collect_schema()[b] for b in by}, **{i: pl.Int128 for i in items}}))
        src, fate_sums, land = source.collect(), by_fate.collect(), landed.collect()
        keys = pl.concat([src.select(by), land.select(by)], how="vertical").unique().sort(by, nulls_last=True)

        def lookup(frame: pl.DataFrame, key: dict, col: str, fate: str | None = None) -> int:
            f = frame
            for b, v in key.items():
                f = f.filter(pl.col(b).is_null() if v is None else pl.col(b) == v)
            if fate is not None:
                f = f.filter(pl.col("fate") == fate)
            return int(f[col].sum()) if f.height else 0

        for key in keys.iter_rows(named=True):
            for item in items:
                results.append(MoneyFlow(
                    table.id, item, key, source=lookup(src, key, item), landed=lookup(land, key, item),
                    rejected=lookup(fate_sums, key, item, "rejected"), merged=lookup(fate_sums, key, item, "merged"),
                    unparsed_records=lookup(src, key, f"{item}__unparsed"),
                    excluded=lookup(fate_sums, key, item, "excluded")))
    return results


def _unread_notes(run: RunState) -> list[str]:
    """Per table with money items: the records rejected whole, whose amounts no sum holds."""
    notes = []
    for table in layout_tables(run).values():
        if not table.money_items:
            continue
        indexes = {f.index for f in run.files if f.source.table == table.id}
        n = sum(c.rejected_whole for c in run.chunks if c.file_index in indexes)
        if n:
            notes.append(f"金額照合 {table.id}: {n:,} record(s) could not be read at all (encoding, field count, a "
                         "bad packed byte): their amounts are in no sum, source included; compare the totals with "
                         "the legacy system's own (the records are in rejects)")
    return notes


def _rule_counts(rejects: pl.LazyFrame, alerts: pl.LazyFrame, examples: int = 5) -> tuple[RuleCount, ...]:
    """Records per reject reason / alert code and item, with the first places (file:line)."""
    out = []
    for kind, frame, code in (("reject", rejects, "reason_code"), ("alert", alerts, "alert_code")):
        place = pl.concat_str([pl.col("source_file"), pl.lit(":"),
                               pl.coalesce(pl.col("source_line").cast(pl.String),
                                           pl.lit("@") + pl.col("byte_offset").cast(pl.String))])
        counts = (frame.sort("source_file", "source_line", "byte_offset")
                  .group_by(code, "item", maintain_order=True)
                  .agg(pl.len().alias("records"), place.head(examples).alias("examples"))
                  .sort(["records", code, "item"], descending=[True, False, False], nulls_last=False).collect())
        out += [RuleCount(kind, r[code], r["item"], r["records"], tuple(r["examples"]))
                for r in counts.iter_rows(named=True)]
    return tuple(out)


def run_row(run: RunState, summary: RunSummary, started: dt.datetime) -> dict:
    t = summary.totals
    return {
        "run_id": run.run_id, "started_at": started.replace(tzinfo=None),
        "finished_at": dt.datetime.now(dt.timezone.utc).replace(tzinfo=None), "tool_version": __version__,
        "municipality_code": run.mapping.municipality_code, "layout": run.mapping.layout.id,
        "mapping_path": str(run.opts.mapping), "mapping_sha256": run.mapping.sha256,
        "input_files": json.dumps([{"path": f.path, "sha256": f.sha256, "size": f.size} for f in summary.files]),
        "source_records": t["source_records"], "landed": t["landed"], "rejected": t["rejected"],
        "merged": t["merged"], "excluded": t["excluded"], "alerts": sum(summary.alerts.values()), "reconciled": summary.reconciled,
        "exit_code": int(summary.exit_code), "timings": json.dumps(summary.timings), "summary": summary.to_json(),
        # what the run did not take from the export, and what it relaxed: queryable without the summary
        "layout_sha256": summary.layout_sha256,
        "not_provided": json.dumps(list(summary.not_provided), ensure_ascii=False),
        "constants": json.dumps(list(summary.constants), ensure_ascii=False),
        "overrides": json.dumps(list(summary.overrides), ensure_ascii=False),
        "delta_from": summary.delta.previous_run_id if summary.delta else None,
    }

"""The run summary as a person reads it on a terminal or in a CI log (``ikou migrate``,
``ikou validate``), and the text pieces the reconciliation report shares with it: the 金額照合
lines, the scope rules, the source columns. Every label is a catalogue message (ikou/i18n.py), so
the text follows ``--lang`` / the locale; codes, ids and numbers stay as they are, and tables are
padded by display width (a Japanese label takes two columns a character)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ikou.i18n import tr
from ikou.report import file_labels
from ikou.textwidth import fate_table

if TYPE_CHECKING:
    from ikou.report import RunSummary


def counts(title: str, pairs) -> list[str]:
    """A titled list of codes and their record counts."""
    return ["", title] + [f"  {k:<28} {v:>8}" for k, v in pairs]


def money_lines(money) -> list[str]:
    """金額照合 as text lines (the run summary and the reconciliation report)."""
    if not money:
        return []
    scoped = any(m.excluded for m in money)
    lines = ["", tr("金額照合 (money, yen: source = landed + rejected + merged + excluded):") if scoped
             else tr("金額照合 (money, yen: source = landed + rejected + merged):")]
    for m in money:
        key = ", ".join(f"{k} {v}" for k, v in m.by.items())
        lines.append(f"  {m.table}.{m.item:<18} {key:<36} "
                     + tr("source {source:>15,}  landed {landed:>15,}  rejected {rejected:>12,}  merged {merged:>10,}",
                          source=m.source, landed=m.landed, rejected=m.rejected, merged=m.merged)
                     + (tr("  excluded {excluded:>12,}", excluded=m.excluded) if scoped else "")
                     + ("" if m.reconciled else tr("  MISMATCH"))
                     + (tr("  ({n} not a number)", n=m.unparsed_records) if m.unparsed_records else ""))
    return lines


def scope_lines(scope, excluded_by_rule: dict[str, int]) -> list[str]:
    """The scope rules and the records each excluded (移行対象外), as text lines."""
    if not scope:
        return []
    lines = ["", tr("out of scope (excluded by the mapping's scope rules; kept in the run table excluded):")]
    for r in scope:
        lines.append(f"  {r['name']:<28} {excluded_by_rule.get(r['name'], 0):>8}  {r['table']}: {r['condition']}"
                     + (f" ({r['description']})" if r.get("description") else ""))
    return lines


def column_lines(columns, not_provided=(), constants=(), overrides=()) -> list[str]:
    """Each source column's fate, the items the export lacks, the constants and the checks the
    mapping changed, as text lines (the run summary and the reconciliation report)."""
    lines = []
    if overrides:
        lines += ["", tr("checks of the layout this mapping changed (off: not checked at all):")]
        lines += [f"  {o['table']}.{o['item']}: {o['check']}: {o['from']} -> {o['to']}" for o in overrides]
    fate_names = {"mapped": tr("mapped"), "kept": tr("kept"), "dropped": tr("dropped"), "structural": tr("structural")}
    for file in dict.fromkeys(c["file"] for c in columns):
        mine = [c for c in columns if c["file"] == file]
        fates = {f: [c for c in mine if c["fate"] == f] for f in fate_names}
        ok = all(c.get("reconciled", True) for c in mine)
        lines += ["", tr("source columns of {file}: {fates}", file=file,
                         fates=", ".join(f"{len(v)} {fate_names[k]}" for k, v in fates.items() if v))
                  + (tr("; every non-empty value is landed, in a rejected, merged or excluded record, or cleared by "
                        "a rule") if ok else tr("; VALUES DO NOT RECONCILE"))]
        for c in fates["kept"]:
            lines.append(tr("  kept in extras: {column} ({n} values)", column=c["column"], n=c["source"])
                         + (f": {c['reason']}" if c["reason"] else ""))
        for c in fates["dropped"]:
            lines.append(tr("  dropped: {column} ({n} values): {reason}", column=c["column"], n=c["source"],
                            reason=c["reason"]))
        for c in mine:
            for rule, n in (c.get("cleared") or {}).items():
                lines.append(tr("  cleared by {rule}: {column} ×{n}", rule=rule, column=c["column"], n=n))
            if not c.get("reconciled", True):
                lines.append(tr("  NOT RECONCILED: {column}: source {source} = landed {landed} + rejected {rejected} "
                                "+ merged {merged} + excluded {excluded} + cleared {cleared}, lost {lost}",
                                column=c["column"], source=c["source"], landed=c["landed"], rejected=c["rejected"],
                                merged=c["merged"], excluded=c.get("excluded", 0),
                                cleared=sum((c.get("cleared") or {}).values()), lost=c["lost"]))
    if not_provided:
        lines += ["", tr("items the export does not have (not_provided: landed empty):")]
        lines += [f"  {n['table']}.{n['item']}: {n['reason']}" for n in not_provided]
    if constants:
        lines += ["", tr("items given a constant by the mapping:")]
        lines += [f"  {c['table']}.{c['item']} = {c['value']!r}" for c in constants]
    return lines


def dedup_lines(s: RunSummary) -> list[str]:
    lines = []
    for d in s.dedup:
        used = d.decisions
        lines += ["", tr("probable duplicates ({table}, splink on {backend}): {persons} persons compared, {pairs} "
                         "pairs scored at or above {review}", table=d.table, backend=d.backend,
                         persons=d.persons_compared, pairs=d.pairs_scored, review=d.review),
                  tr("  merged (match probability >= {auto_merge} or decided same): {persons} persons, {records} "
                     "records", auto_merge=d.auto_merge, persons=d.merged_persons, records=d.merged_records)]
        if d.training_skipped:
            lines.append(tr("  not trained on pairs with {values}: too few likely duplicates there (their "
                            "comparisons stay neutral)", values=", ".join(d.training_skipped)))
        lines.append(tr("  decisions read: {same} same, {different} different, {stale} no longer applicable",
                        same=used.same, different=used.different, stale=used.stale))
        where = (f" (review/{s.municipality_code}/review_queue_{d.table}.csv)" if d.review_pairs and not s.dry_run
                 else "")
        lines.append(tr("  awaiting review: {n} pairs", n=d.review_pairs) + where)
    return lines


def render_summary(s: RunSummary) -> str:
    """``RunSummary.render_text``: what ``ikou migrate`` and ``ikou validate`` print."""
    t = s.totals
    head = tr("DRY RUN (nothing landed) ") if s.dry_run else ""
    lines = [head + tr("run {run_id}: {name} ({code}), layout {layout}", run_id=s.run_id, name=s.municipality_name,
                       code=s.municipality_code, layout=s.layout), ""]
    lines += fate_table([(label, f.source_records, f.landed, f.rejected, f.merged, f.excluded, f.reconciled)
                         for f, label in zip(s.files, file_labels(s.files))]
                        + [(tr("total"), t["source_records"], t["landed"], t["rejected"], t["merged"], t["excluded"],
                            s.reconciled)], excluded=s.scoped)
    if s.rejects_by_reason:
        lines += counts(tr("rejects by reason:"), sorted(s.rejects_by_reason.items(), key=lambda x: -x[1]))
    if s.merged_by_reason:
        lines += counts(tr("merged:"), sorted(s.merged_by_reason.items()))
    lines += scope_lines(s.scope, s.excluded_by_rule)
    lines += s.delta.lines() if s.delta else []
    lines += dedup_lines(s)
    if s.alerts:
        lines += counts(tr("alerts (landed and reported):"), sorted(s.alerts.items(), key=lambda x: -x[1]))
    if s.changes_by_rule:
        lines += counts(tr("values changed by cleansing (originals kept in cleansing_changes):"),
                        sorted(s.changes_by_rule.items(), key=lambda x: -x[1]))
    if s.coverage:
        lines += ["", tr("code tables (legacy codes used / unused / unmapped):")]
        w1 = max(len(c.code_table) for c in s.coverage)
        w2 = max(len(c.item) for c in s.coverage)
        for c in s.coverage:
            extra = ""
            if c.unmapped_codes:
                extra = tr("  unmapped: {codes}", codes=", ".join(f"{code!r}×{n}" for code, n in c.unmapped_codes[:10]))
            lines.append(f"  {c.code_table:<{w1}}  {c.item:<{w2}}  {c.used:>4} / {c.unused:>4} / {c.unmapped:>4}{extra}")
    if s.gaiji_mapped or s.gaiji_unmapped:
        lines += ["", tr("外字 (private-use characters; table: {table}):", table=s.gaiji_table or tr("none"))]
        lines += [f"  {code}  " + tr("replaced ×{n}", n=n) for code, n in s.gaiji_mapped.items()]
        lines += [f"  {code}  " + tr("NOT MAPPED, kept ×{n}", n=n) for code, n in s.gaiji_unmapped.items()]
    lines += column_lines(s.columns, s.not_provided, s.constants, s.overrides)
    padded = [f for f in s.files if f.padded_records]
    if padded:
        lines += ["", tr("short fixed-width records padded with spaces (short_records: pad):")]
        lines += [f"  {f.path}  {f.padded_records}" for f in padded]
    lines += [tr("RECONCILIATION FAILED: {problem}", problem=p) for p in s.reconciliation_problems]
    if s.findings:
        lines += ["", tr("FILE FINDINGS (the export disagrees with itself; exit code 1):")]
        lines += [f"  {x}" for x in s.findings]
    lines += money_lines(s.money)
    lines += [tr("MONEY RECONCILIATION FAILED (exit code 1): {problem}", problem=p) for p in s.money_problems]
    lines += [tr("note: {note}", note=n) for n in s.notes]
    lines += ["", tr("reject rate {reject_rate:.2%}, alert rate {alert_rate:.2%}", reject_rate=s.reject_rate,
                     alert_rate=s.alert_rate)]
    for c in s.threshold_checks:
        shown = (tr("{actual:.2%} (max {limit:.2%})", actual=c.actual, limit=c.limit) if c.name.endswith("_rate")
                 else tr("{actual} (max {limit})", actual=c.actual, limit=c.limit))
        lines.append(f"  {c.name}: {shown}" + ("" if c.passed else tr(": OVER THRESHOLD")))
    lines.append(tr("exit code {code} ({name})", code=int(s.exit_code), name=s.exit_code.name.lower()))
    return "\n".join(lines) + "\n"

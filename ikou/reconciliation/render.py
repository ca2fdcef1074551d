"""Text and HTML renderings of a ReconciliationReport. Both read only the report object.

The HTML page (templates/report.html.j2, Jinja2) is self-contained (inline CSS, inline SVG charts, a few lines of script for
sorting and filtering tables) and in Japanese with the English ids beside. Every number it shows
carries ``data-k``, the path of that number in the JSON rendering, so that a browser test can
check that the page shows what the JSON says.
"""

from __future__ import annotations

import json
from functools import cache

import jinja2
from markupsafe import Markup

from ikou.i18n import tr
from ikou.reasons import is_known, reason
from ikou.reconciliation.model import REJECT_SAMPLES, MunicipalityReport, ReconciliationReport
from ikou.report import file_labels
from ikou.summary_text import column_lines, money_lines, scope_lines
from ikou.textwidth import fate_table, pad_display

# -- text ----------------------------------------------------------------------------------------


def _label(code: str, item: str | None) -> str:
    return f"{code} ({item})" if item else code


def render_text(report: ReconciliationReport) -> str:
    """The report for a terminal or a CI log, in the current language (labels only: codes, ids
    and numbers as they are)."""
    t = report.totals
    codes = {m.municipality_code for m in report.municipalities}
    lines = [tr("reconciliation report for {out}: {municipalities} municipality(ies), {runs} run(s) (one per "
                "municipality and 業務), reconciled: {reconciled}", out=report.out, municipalities=len(codes),
                runs=len(report.municipalities), reconciled=tr("yes") if report.reconciled else tr("NO")),
             tr("  source {source_records}, landed {landed}, rejected {rejected}, merged {merged}, alerts {alerts}, "
                "unmapped codes {unmapped_codes}, unmapped 外字 {gaiji_unmapped}", **t)]
    if report.group:
        g = report.group
        lines.append(tr("  group {group} ({name}): succeeded {succeeded}; failed {failed}", group=g["group"],
                        name=g["name"], succeeded=", ".join(g["succeeded"] or []) or "-",
                        failed=", ".join(g["failed"] or []) or "-"))
    if not report.money_reconciled:
        lines.append(tr("  MONEY (金額照合) DOES NOT RECONCILE: see the sections below"))
    if len({v.municipality_code for v in report.volumes}) > 1:
        lines += ["", tr("processing volume per 業務 (records; share of the 業務):")]
        lines += [f"  {v.layout:<10} {v.municipality_code} {pad_display(v.municipality_name, 10)} {v.records:>10} "
                  f"{v.share:>8.2%}" for v in report.volumes]
    if report.apportionment:
        a = report.apportionment
        lines += ["", tr("費用按分 (shared cost {cost:,} yen, method {method}):", cost=a["cost"], method=a["method"])]
        lines += [f"  {m['code']} {pad_display(m['name'], 10)} {m['share']:>12} {m['yen']:>15,}  {m['basis']}"
                  for m in a["members"]]
    if report.signoffs:
        lines += ["", tr("sign-offs (検証責任):")]
        lines += [f"  {s['municipality_code']} {s['layout']:<8} {s['role']:<12} {s['by']}  {s['signed_at']}  "
                  + tr("run {run_id}", run_id=s["run_id"]) + "  "
                  + (tr("valid") if s["valid"] else tr("VOID: {why}", why=s["why"])) for s in report.signoffs]
    for m in report.municipalities:
        lines += ["", *_municipality_text(m)]
    return "\n".join(lines) + "\n"


def _municipality_text(m: MunicipalityReport) -> list[str]:
    lines = [tr("== {name} ({code}), {layout_ja} ({layout}), run {run_id}", name=m.municipality_name,
                code=m.municipality_code, layout_ja=m.layout_ja, layout=m.layout, run_id=m.run_id),
             tr("   mapping {path} sha256 {sha}…, finished {finished_at}, exit code {code}", path=m.mapping_path,
                sha=m.mapping_sha256[:16], finished_at=m.finished_at, code=m.run_exit_code), ""]
    t = m.totals
    lines += fate_table([(label, f.source_records, f.landed, f.rejected, f.merged, f.excluded, f.reconciled)
                         for f, label in zip(m.files, file_labels(m.files))]
                        + [(tr("total"), t["source_records"], t["landed"], t["rejected"], t["merged"], t["excluded"],
                            m.reconciled)], excluded=m.scoped)
    lines += [tr("  RECONCILIATION FAILED: {problem}", problem=p) for p in m.reconciliation_problems]
    lines += scope_lines(m.scope, m.excluded_by_rule)
    lines += m.delta.lines() if m.delta else []
    for title, counts in ((tr("rejects by reason:"), m.rejects), (tr("alerts:"), m.alerts), (tr("merged:"), m.merges)):
        if counts:
            lines += ["", title]
            lines += [f"  {_label(c.code, c.item):<48} {c.records:>8}" for c in counts]
    if m.review_pairs:
        lines += ["", tr("probable duplicates awaiting review: {n} pairs", n=m.review_pairs)]
    if m.coverage:
        lines += ["", tr("code tables (legacy codes used / unused / unmapped):")]
        for c in m.coverage:
            extra = (tr("  unmapped: {codes}", codes=", ".join(f"{k!r}×{n}" for k, n in c.unmapped_codes[:10]))
                     if c.unmapped_codes else "")
            lines.append(f"  {c.code_table:<28} {c.item:<28} {c.used:>4} / {c.unused:>4} / {c.unmapped:>4}{extra}")
    if m.gaiji:
        lines += ["", tr("外字 (private-use characters):")]
        lines += [f"  {g.code}  {g.item or '':<20} ×{g.records:<6} "
                  + (tr("replaced by {replacement}", replacement=g.replacement) if g.mapped else tr("NOT MAPPED, kept"))
                  for g in m.gaiji]
    if m.normalisations:
        lines += ["", tr("values changed by cleansing (originals kept in cleansing_changes):")]
        lines += [f"  {n.item:<32} {n.rule:<20} {n.records:>8}" for n in m.normalisations]
    if m.hash_totals:
        lines += ["", tr("hash totals over key items (landed; sum of the values written in digits):")]
        lines += [f"  {h.table}.{h.item:<24} " + tr("records {non_null:>9}  distinct {distinct:>9}  sum {digit_sum}",
                                                    non_null=h.non_null, distinct=h.distinct, digit_sum=h.digit_sum)
                  + (tr("  ({n} not digits)", n=h.non_digit) if h.non_digit else "") for h in m.hash_totals]
    if m.money_sums:
        lines += ["", tr("money items (landed, yen):")]
        lines += [f"  {s.table}.{s.item:<24} " + tr("records {records:>9}  sum {total}", records=s.records,
                                                    total=s.total) for s in m.money_sums]
    lines += money_lines(m.money_totals)
    lines += column_lines(m.columns, m.not_provided, m.constants, m.overrides)
    return lines


# -- HTML: templates/report.html.j2 -------------------------------------------------------------

LABELS = {
    "source_records": "元レコード", "landed": "移行", "rejected": "リジェクト", "merged": "統合（重複）",
    "excluded": "移行対象外",
    "alerts": "アラート", "unmapped_codes": "未定義コード", "gaiji_unmapped": "未対応外字",
}
COLORS = {"landed": "#2e7d32", "rejected": "#c62828", "merged": "#f9a825", "excluded": "#78909c"}
COVERAGE_COLORS = {"used": "#1565c0", "unused": "#9e9e9e", "unmapped": "#c62828"}
FATES = ("source_records", "landed", "rejected", "merged", "excluded")
COLUMN_FATES = {"mapped": "移行", "kept": "保持（extras）", "dropped": "破棄", "structural": "構造"}


def _meaning(code: str) -> Markup:
    """The catalogue's Japanese and English text of a code, without the value it is about."""
    if not is_known(code):
        return Markup("")
    r = reason(code)
    return Markup("{}<span class=id>{}</span>").format(r.ja.replace("{}", "…"), r.en.replace("{}", "…"))


CONTROL_PICTURES = {c: 0x2400 + c for c in range(32)} | {0x7F: 0x2421}  # ␀…␟, ␡


def visible_controls(text: str | None) -> str | None:
    """Control characters of a raw record as their pictures (␀ ␍ ␊ …): a browser would drop or
    fold them, and a vendor looking for a stray byte must see it."""
    return None if text is None else text.translate(CONTROL_PICTURES)


def _by_reason(samples) -> list[tuple[str, list]]:
    """Reject samples per reason code, each with its index in the JSON (the drill-down's data-k)."""
    groups: dict[str, list] = {}
    for j, s in enumerate(samples):
        groups.setdefault(s.reason_code, []).append((j, s))
    return list(groups.items())


def _by_money_item(totals) -> list[tuple[tuple[str, str], list]]:
    """金額照合 rows per (table, item), in first-seen order, each with its index in the JSON."""
    groups: dict[tuple[str, str], list] = {}
    for j, t in enumerate(totals):
        groups.setdefault((t.table, t.item), []).append((j, t))
    return list(groups.items())


def _sections(report: ReconciliationReport) -> list[tuple[str, str, list]]:
    """The runs per municipality (each 業務 a run), with each run's index in the JSON."""
    groups: dict[str, tuple[str, str, list]] = {}
    for i, m in enumerate(report.municipalities):
        groups.setdefault(m.municipality_code, (m.municipality_code, m.municipality_name, []))[2].append((i, m))
    return list(groups.values())


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("ikou.reconciliation", "templates"),
                             autoescape=jinja2.select_autoescape(["j2", "html"], default_for_string=True),
                             undefined=jinja2.StrictUndefined,
                             finalize=lambda v: "" if v is None else v)  # as html.escape(None or "")
    env.filters.update(
        count_label=lambda c: (f"{c.item_ja or c.item or ''} {c.code}".strip(), c.records),
        gaiji_label=lambda g: (f"{g.code} {'対応済' if g.mapped else '未対応'}", g.records),
        normalisation_label=lambda n: (f"{n.item_ja or n.item} {n.rule}", n.records),
        volume_label=lambda v: (f"{v.layout} {v.municipality_name}", v.records),
        plain_header=lambda h: (h, ""),
        named_header=lambda h, names: (names.get(h) or h, h if names.get(h) else ""),
        by_reason=_by_reason, by_money_item=_by_money_item, visible=visible_controls,
        cleared_text=lambda kv: f"{kv[0]} {kv[1]:,}")
    env.globals.update(
        meaning=_meaning, file_labels=file_labels, labels=LABELS, colors=COLORS, coverage_colors=COVERAGE_COLORS, fates=FATES,
        fate_headers=[(LABELS[k], k) for k in FATES], column_fates=COLUMN_FATES,
        fate_legend=[(f"{LABELS[p]} ({p})", c) for p, c in COLORS.items()],
        coverage_legend=[("使用 used", COVERAGE_COLORS["used"]), ("未使用 unused", COVERAGE_COLORS["unused"]),
                         ("未定義 unmapped", COVERAGE_COLORS["unmapped"])])
    return env


def render_html(report: ReconciliationReport) -> str:
    """One self-contained page: the report object through templates/report.html.j2, with the
    report's JSON embedded (the numbers on the page carry their JSON paths)."""
    payload = Markup(json.dumps(report.to_dict(), ensure_ascii=False).replace("</", "<\\/"))
    return environment().get_template("report.html.j2").render(
        report=report, payload=payload, sections=_sections(report), sample_limit=REJECT_SAMPLES,
        several_municipalities=len({v.municipality_code for v in report.volumes}) > 1)

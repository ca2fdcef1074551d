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

from ikou.reasons import is_known, reason
from ikou.reconciliation.model import MunicipalityReport, ReconciliationReport
from ikou.report import column_lines, money_lines, scope_lines
from ikou.textwidth import fate_table, pad_display

# -- text ----------------------------------------------------------------------------------------


def _label(code: str, item: str | None) -> str:
    return f"{code} ({item})" if item else code


def render_text(report: ReconciliationReport) -> str:
    t = report.totals
    codes = {m.municipality_code for m in report.municipalities}
    lines = [f"reconciliation report for {report.out}: {len(codes)} municipality(ies), "
             f"{len(report.municipalities)} run(s) (one per municipality and 業務), "
             f"reconciled: {'yes' if report.reconciled else 'NO'}",
             f"  source {t['source_records']}, landed {t['landed']}, rejected {t['rejected']}, merged {t['merged']}, "
             f"alerts {t['alerts']}, unmapped codes {t['unmapped_codes']}, unmapped 外字 {t['gaiji_unmapped']}"]
    if report.group:
        g = report.group
        lines.append(f"  group {g['group']} ({g['name']}): succeeded {', '.join(g['succeeded'] or []) or '-'}; "
                     f"failed {', '.join(g['failed'] or []) or '-'}")
    if not report.money_reconciled:
        lines.append("  MONEY (金額照合) DOES NOT RECONCILE: see the sections below")
    if len({v.municipality_code for v in report.volumes}) > 1:
        lines += ["", "processing volume per 業務 (records; share of the 業務):"]
        lines += [f"  {v.layout:<10} {v.municipality_code} {pad_display(v.municipality_name, 10)} {v.records:>10} "
                  f"{v.share:>8.2%}" for v in report.volumes]
    if report.apportionment:
        a = report.apportionment
        lines += ["", f"費用按分 (shared cost {a['cost']:,} yen, method {a['method']}):"]
        lines += [f"  {m['code']} {pad_display(m['name'], 10)} {m['share']:>12} {m['yen']:>15,}  {m['basis']}"
                  for m in a["members"]]
    if report.signoffs:
        lines += ["", "sign-offs (検証責任):"]
        lines += [f"  {s['municipality_code']} {s['layout']:<8} {s['role']:<12} {s['by']}  {s['signed_at']}  "
                  f"run {s['run_id']}  " + ("valid" if s["valid"] else f"VOID: {s['why']}") for s in report.signoffs]
    for m in report.municipalities:
        lines += ["", *_municipality_text(m)]
    return "\n".join(lines) + "\n"


def _municipality_text(m: MunicipalityReport) -> list[str]:
    lines = [f"== {m.municipality_name} ({m.municipality_code}), {m.layout_ja} ({m.layout}), run {m.run_id}",
             f"   mapping {m.mapping_path} sha256 {m.mapping_sha256[:16]}…, finished {m.finished_at}, "
             f"exit code {m.run_exit_code}", ""]
    t = m.totals
    lines += fate_table([(f.path, f.source_records, f.landed, f.rejected, f.merged, f.excluded, f.reconciled)
                         for f in m.files]
                        + [("total", t["source_records"], t["landed"], t["rejected"], t["merged"], t["excluded"],
                            m.reconciled)], excluded=m.scoped)
    lines += [f"  RECONCILIATION FAILED: {p}" for p in m.reconciliation_problems]
    lines += scope_lines(m.scope, m.excluded_by_rule)
    lines += m.delta.lines() if m.delta else []
    for title, counts in (("rejects by reason", m.rejects), ("alerts", m.alerts), ("merged", m.merges)):
        if counts:
            lines += ["", f"{title}:"]
            lines += [f"  {_label(c.code, c.item):<48} {c.records:>8}" for c in counts]
    if m.review_pairs:
        lines += ["", f"probable duplicates awaiting review: {m.review_pairs} pairs"]
    if m.coverage:
        lines += ["", "code tables (legacy codes used / unused / unmapped):"]
        for c in m.coverage:
            extra = ("  unmapped: " + ", ".join(f"{k!r}×{n}" for k, n in c.unmapped_codes[:10])) if c.unmapped_codes else ""
            lines.append(f"  {c.code_table:<28} {c.item:<28} {c.used:>4} / {c.unused:>4} / {c.unmapped:>4}{extra}")
    if m.gaiji:
        lines += ["", "外字 (private-use characters):"]
        lines += [f"  {g.code}  {g.item or '':<20} ×{g.records:<6} "
                  + (f"replaced by {g.replacement}" if g.mapped else "NOT MAPPED, kept") for g in m.gaiji]
    if m.normalisations:
        lines += ["", "values changed by cleansing (originals kept in cleansing_changes):"]
        lines += [f"  {n.item:<32} {n.rule:<20} {n.records:>8}" for n in m.normalisations]
    if m.hash_totals:
        lines += ["", "hash totals over key items (landed; sum of the values written in digits):"]
        lines += [f"  {h.table}.{h.item:<24} records {h.non_null:>9}  distinct {h.distinct:>9}  sum {h.digit_sum}"
                  + (f"  ({h.non_digit} not digits)" if h.non_digit else "") for h in m.hash_totals]
    if m.money_sums:
        lines += ["", "money items (landed, yen):"]
        lines += [f"  {s.table}.{s.item:<24} records {s.records:>9}  sum {s.total}" for s in m.money_sums]
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
        cleared_text=lambda kv: f"{kv[0]} {kv[1]:,}")
    env.globals.update(
        meaning=_meaning, labels=LABELS, colors=COLORS, coverage_colors=COVERAGE_COLORS, fates=FATES,
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
        report=report, payload=payload,
        several_municipalities=len({v.municipality_code for v in report.volumes}) > 1)

"""Text and HTML renderings of a ReconciliationReport. Both read only the report object.

The HTML page is self-contained (inline CSS, inline SVG charts, a few lines of script for
sorting and filtering tables) and in Japanese with the English ids beside. Every number it shows
carries ``data-k``, the path of that number in the JSON rendering, so that a browser test can
check that the page shows what the JSON says.
"""

from __future__ import annotations

import html
import json

from ikou.reasons import is_known, reason
from ikou.textwidth import fate_table, pad_display
from ikou.reconciliation.model import MunicipalityReport, ReconciliationReport
from ikou.report import column_lines, money_lines

# -- text ----------------------------------------------------------------------------------------


def _meaning(code: str) -> str:
    """The catalogue's Japanese and English text of a code, without the value it is about."""
    if not is_known(code):
        return ""
    r = reason(code)
    return f"{_e(r.ja.replace('{}', '…'))}<span class=id>{_e(r.en.replace('{}', '…'))}</span>"


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
    for m in report.municipalities:
        lines += ["", *_municipality_text(m)]
    return "\n".join(lines) + "\n"


def _municipality_text(m: MunicipalityReport) -> list[str]:
    lines = [f"== {m.municipality_name} ({m.municipality_code}), {m.layout_ja} ({m.layout}), run {m.run_id}",
             f"   mapping {m.mapping_path} sha256 {m.mapping_sha256[:16]}…, finished {m.finished_at}, "
             f"exit code {m.run_exit_code}", ""]
    t = m.totals
    lines += fate_table([(f.path, f.source_records, f.landed, f.rejected, f.merged, f.reconciled) for f in m.files]
                        + [("total", t["source_records"], t["landed"], t["rejected"], t["merged"], m.reconciled)])
    lines += [f"  RECONCILIATION FAILED: {p}" for p in m.reconciliation_problems]
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


# -- HTML ----------------------------------------------------------------------------------------

LABELS = {
    "source_records": "元レコード", "landed": "移行", "rejected": "リジェクト", "merged": "統合（重複）",
    "alerts": "アラート", "unmapped_codes": "未定義コード", "gaiji_unmapped": "未対応外字",
}
COLORS = {"landed": "#2e7d32", "rejected": "#c62828", "merged": "#f9a825"}

CSS = """
body{font-family:"Noto Sans JP","Hiragino Sans","Yu Gothic",Meiryo,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:1.5em}h2{border-bottom:2px solid #555;padding-bottom:4px;margin-top:2em}h3{margin-top:1.5em}
table{border-collapse:collapse;margin:8px 0 16px}th,td{border:1px solid #bbb;padding:3px 8px;font-size:.9em}
th{background:#eee;cursor:pointer;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
.id{color:#777;font-size:.85em;margin-left:.4em}.ok{color:#2e7d32;font-weight:bold}.ng{color:#c62828;font-weight:bold}
.cards{display:flex;gap:12px;flex-wrap:wrap}.card{border:1px solid #ccc;border-radius:6px;padding:8px 14px;min-width:110px}
.card .v{font-size:1.4em;font-weight:bold}.legend span{display:inline-block;margin-right:14px}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px}
input.filter{margin:4px 0;padding:2px 6px}
"""

SCRIPT = """
document.querySelectorAll('table.sortable').forEach(function (table) {
  table.querySelectorAll('th').forEach(function (th, col) {
    th.addEventListener('click', function () {
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      var asc = th.dataset.dir !== 'asc'; th.dataset.dir = asc ? 'asc' : 'desc';
      rows.sort(function (a, b) {
        var x = a.cells[col].dataset.v || a.cells[col].textContent, y = b.cells[col].dataset.v || b.cells[col].textContent;
        var nx = Number(x), ny = Number(y), c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y, 'ja');
        return asc ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
document.querySelectorAll('input.filter').forEach(function (input) {
  var table = document.getElementById(input.dataset.table);
  input.addEventListener('input', function () {
    var q = input.value.toLowerCase();
    Array.prototype.forEach.call(table.tBodies[0].rows, function (r) {
      r.style.display = r.textContent.toLowerCase().indexOf(q) >= 0 ? '' : 'none';
    });
  });
});
document.body.dataset.ready = 'yes';
"""


def _e(x) -> str:
    return html.escape("" if x is None else str(x))


def _num(value: int | str, key: str) -> str:
    """A number as shown (thousands separators) with its JSON path in data-k and its raw value in data-v."""
    shown = f"{int(value):,}"
    return f'<span data-k="{_e(key)}" data-v="{_e(value)}">{shown}</span>'


def _item(item: str | None, item_ja: str | None) -> str:
    if not item:
        return "—"
    return f"{_e(item_ja or item)}<span class=id>{_e(item)}</span>" if item_ja else f"{_e(item)}"


def _table(headers: list[str], rows: list[list[str]], numeric: set[int], table_id: str = "") -> str:
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f'<td class="n">{c}</td>' if i in numeric else f"<td>{c}</td>"
                                    for i, c in enumerate(r)) + "</tr>" for r in rows)
    tid = f' id="{table_id}"' if table_id else ""
    return f'<table class="sortable"{tid}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _bars(rows: list[tuple[str, int]], color: str = "#1565c0", label_width: int = 260) -> str:
    """Horizontal bar chart (inline SVG) of labelled counts."""
    if not rows:
        return ""
    top = max(n for _, n in rows) or 1
    width, bar_h = 420, 18
    parts = []
    for k, (label, n) in enumerate(rows):
        y = k * (bar_h + 6)
        w = max(1, round(width * n / top)) if n else 0
        parts.append(f'<text x="{label_width - 6}" y="{y + 13}" text-anchor="end" font-size="12">{_e(label)}</text>'
                     f'<rect x="{label_width}" y="{y}" width="{w}" height="{bar_h}" fill="{color}"/>'
                     f'<text x="{label_width + w + 4}" y="{y + 13}" font-size="12">{n:,}</text>')
    height = len(rows) * (bar_h + 6)
    return (f'<svg role="img" width="{label_width + width + 80}" height="{height}" '
            f'xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg>')


def _flow(m: MunicipalityReport) -> str:
    """Record flow per file: one stacked bar (landed / rejected / merged) per source file."""
    label_width, width, bar_h = 300, 560, 22
    parts = []
    for k, f in enumerate(m.files):
        y = k * (bar_h + 8)
        x = label_width
        parts.append(f'<text x="{label_width - 6}" y="{y + 15}" text-anchor="end" font-size="12">{_e(f.path)}</text>')
        for part in ("landed", "rejected", "merged"):
            n = getattr(f, part)
            w = width * n / f.source_records if f.source_records else 0
            if n:
                parts.append(f'<rect x="{x:.1f}" y="{y}" width="{max(w, 1):.1f}" height="{bar_h}" '
                             f'fill="{COLORS[part]}"><title>{LABELS[part]} {n:,}</title></rect>')
            x += w
    height = max(1, len(m.files)) * (bar_h + 8)
    legend = "".join(f'<span><i style="background:{c}"></i>{LABELS[p]} ({p})</span>' for p, c in COLORS.items())
    return (f'<svg role="img" width="{label_width + width + 20}" height="{height}" '
            f'xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg><div class=legend>{legend}</div>')


def render_html(report: ReconciliationReport) -> str:
    data = report.to_dict()
    t = report.totals
    cards = "".join(f'<div class=card><div>{LABELS[k]}<span class=id>{k}</span></div>'
                    f'<div class=v>{_num(t[k], f"totals.{k}")}</div></div>' for k in LABELS)
    status = ('<span class=ok data-k="reconciled" data-v="true">照合一致（reconciled）</span>' if report.reconciled
              else '<span class=ng data-k="reconciled" data-v="false">照合不一致（NOT reconciled）</span>')
    nav = "".join(f'<li><a href="#m{_e(m.municipality_code)}-{_e(m.layout)}">{_e(m.municipality_name)} '
                  f'（{_e(m.municipality_code)}）{_e(m.layout_ja)}</a></li>' for m in report.municipalities)
    sections = "".join(_municipality_html(m, i) for i, m in enumerate(report.municipalities))
    group = ""
    if report.group:
        g = report.group
        group = (f"<p>自治体クラウド <b>{_e(g['name'])}</b><span class=id>{_e(g['group'])}</span>・成功 "
                 f"{_e(', '.join(g['succeeded'] or []) or '—')}・失敗 {_e(', '.join(g['failed'] or []) or '—')}</p>")
    volumes = ""
    if len({v.municipality_code for v in report.volumes}) > 1:
        volumes = ("<h2>処理件数（業務別）<span class=id>processing volume per 業務, for apportioning shared costs</span></h2>"
                   + _bars([(f"{v.layout} {v.municipality_name}", v.records) for v in report.volumes], "#455a64")
                   + _table(["業務<span class=id>layout</span>", "団体<span class=id>municipality</span>",
                             "件数<span class=id>records</span>", "比率<span class=id>share</span>"],
                            [[_e(v.layout), f"{_e(v.municipality_name)}（{_e(v.municipality_code)}）",
                              _num(v.records, f"volumes.{j}.records"), f"{v.share:.2%}"]
                             for j, v in enumerate(report.volumes)], {2, 3}))
    payload = json.dumps(data, ensure_ascii=False).replace("</", "<\\/")
    return (
        "<!DOCTYPE html>\n<html lang=ja><head><meta charset=utf-8>"
        f"<title>移行照合レポート {_e(report.out)}</title><style>{CSS}</style></head><body>"
        f"<h1>移行照合レポート<span class=id>reconciliation report</span></h1>"
        f"<p>出力先 <code>{_e(report.out)}</code>・ikou {_e(report.tool_version)}・{status}</p>"
        f"{group}<div class=cards>{cards}</div><ul>{nav}</ul>{volumes}{sections}"
        f'<script type="application/json" id="ikou-report">{payload}</script>'
        f"<script>{SCRIPT}</script></body></html>\n")


def _municipality_html(m: MunicipalityReport, i: int) -> str:
    p = f"municipalities.{i}"
    out = [f'<section id="m{_e(m.municipality_code)}-{_e(m.layout)}">'
           f"<h2>{_e(m.municipality_name)}（{_e(m.municipality_code)}）{_e(m.layout_ja)}"
           f"<span class=id>{_e(m.layout)}</span></h2>",
           f"<p>実行ID <code>{_e(m.run_id)}</code>・完了 {_e(m.finished_at)}・マッピング <code>{_e(m.mapping_path)}</code> "
           f"(sha256 <code>{_e(m.mapping_sha256[:16])}…</code>)・終了コード {m.run_exit_code}・"
           + ('<span class=ok>照合一致</span>' if m.reconciled else '<span class=ng>照合不一致</span>') + "</p>"]
    out += [f"<p class=ng>{_e(x)}</p>" for x in m.reconciliation_problems]

    out.append("<h3>ファイル別件数<span class=id>record flow per file</span></h3>" + _flow(m))
    rows = [[_e(f.path)] + [_num(getattr(f, k), f"{p}.files.{j}.{k}") for k in ("source_records", "landed",
                                                                                  "rejected", "merged")]
            + ["一致" if f.reconciled else '<span class=ng>不一致</span>'] for j, f in enumerate(m.files)]
    tt = m.totals
    rows.append(["<b>合計</b>"] + [_num(tt[k], f"{p}.totals.{k}") for k in ("source_records", "landed", "rejected",
                                                                          "merged")] + [""])
    out.append(_table(["ファイル<span class=id>file</span>"] + [f"{LABELS[k]}<span class=id>{k}</span>" for k in
                                                              ("source_records", "landed", "rejected", "merged")]
                      + ["照合"], rows, {1, 2, 3, 4}))

    for key, title, en, color in (("rejects", "リジェクト理由", "reject reasons", "#c62828"),
                                  ("alerts", "アラート", "alerts", "#ef6c00"),
                                  ("merges", "統合（重複）", "merged duplicates", "#f9a825")):
        counts = getattr(m, key)
        out.append(f"<h3>{title}<span class=id>{en}</span></h3>")
        if not counts:
            out.append("<p>なし（none）</p>")
            continue
        out.append(_bars([(f"{c.item_ja or c.item or ''} {c.code}".strip(), c.records) for c in counts], color))
        out.append(_table(["コード<span class=id>code</span>", "意味<span class=id>meaning</span>",
                           "項目<span class=id>item</span>", "件数<span class=id>records</span>"],
                          [[_e(c.code), _meaning(c.code), _item(c.item, c.item_ja),
                            _num(c.records, f"{p}.{key}.{j}.records")] for j, c in enumerate(counts)], {3}))
    if m.review_pairs:
        out.append(f"<p>確認待ちの重複候補（review queue）: {_num(m.review_pairs, f'{p}.review_pairs')} 組</p>")

    out.append("<h3>コード表カバレッジ<span class=id>code-table coverage</span></h3>")
    if m.coverage:
        legend = {"used": "#1565c0", "unused": "#9e9e9e", "unmapped": "#c62828"}
        svg = []
        for k, c in enumerate(m.coverage):
            y, x, total = k * 26, 300, (c.used + c.unused + c.unmapped) or 1
            svg.append(f'<text x="294" y="{y + 14}" text-anchor="end" font-size="12">{_e(c.item_ja or c.item)}</text>')
            for part, color in legend.items():
                w = 360 * getattr(c, part) / total
                if w:
                    svg.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="20" fill="{color}">'
                               f"<title>{part} {getattr(c, part)}</title></rect>")
                x += w
        out.append(f'<svg role="img" width="680" height="{len(m.coverage) * 26}" xmlns="http://www.w3.org/2000/svg">'
                   + "".join(svg) + "</svg><div class=legend>"
                   + "".join(f'<span><i style="background:{c}"></i>{n}</span>' for n, c in
                             (("使用 used", legend["used"]), ("未使用 unused", legend["unused"]),
                              ("未定義 unmapped", legend["unmapped"]))) + "</div>")
        out.append(_table(["コード表<span class=id>code table</span>", "項目<span class=id>item</span>", "使用<span class=id>used</span>",
                           "未使用<span class=id>unused</span>", "未定義<span class=id>unmapped</span>",
                           "未定義コード（件数）<span class=id>unmapped codes</span>"],
                          [[_e(c.code_table), _item(c.item, c.item_ja), _num(c.used, f"{p}.coverage.{j}.used"),
                            _num(c.unused, f"{p}.coverage.{j}.unused"), _num(c.unmapped, f"{p}.coverage.{j}.unmapped"),
                            ", ".join(f"<code>{_e(code)}</code>×{_num(n, f'{p}.coverage.{j}.unmapped_codes.{q}.records')}"
                                      for q, (code, n) in enumerate(c.unmapped_codes))]
                           for j, c in enumerate(m.coverage)], {2, 3, 4}, f"coverage-{i}"))
    else:
        out.append("<p>コード表なし（no code tables in the mapping）</p>")

    out.append("<h3>外字<span class=id>gaiji (private-use characters)</span></h3>")
    if m.gaiji:
        out.append(_bars([(f"{g.code} {'対応済' if g.mapped else '未対応'}", g.records) for g in m.gaiji], "#6a1b9a"))
        out.append(_table(["コード<span class=id>code</span>", "項目<span class=id>item</span>", "件数<span class=id>records</span>",
                           "対応<span class=id>mapped</span>", "置換文字<span class=id>replacement</span>"],
                          [[_e(g.code), _item(g.item, g.item_ja), _num(g.records, f"{p}.gaiji.{j}.records"),
                            "対応済" if g.mapped else '<span class=ng>未対応</span>', _e(g.replacement or "")]
                           for j, g in enumerate(m.gaiji)], {2}))
    else:
        out.append("<p>なし（none）</p>")

    out.append("<h3>正規化（クレンジング）<span class=id>normalisations applied</span></h3>")
    if m.normalisations:
        out.append(_bars([(f"{n.item_ja or n.item} {n.rule}", n.records) for n in m.normalisations], "#00838f"))
        out.append(_table(["項目<span class=id>item</span>", "規則<span class=id>rule</span>", "件数<span class=id>records</span>"],
                          [[_item(n.item, n.item_ja), _e(n.rule), _num(n.records, f"{p}.normalisations.{j}.records")]
                           for j, n in enumerate(m.normalisations)], {2}))
    else:
        out.append("<p>なし（none）</p>")

    out.append("<h3>ハッシュトータル<span class=id>hash totals over key items (landed)</span></h3>")
    out.append(_table(["テーブル<span class=id>table</span>", "項目<span class=id>item</span>", "件数<span class=id>records</span>",
                       "異なり数<span class=id>distinct</span>", "数字合計<span class=id>digit sum</span>",
                       "数字以外<span class=id>non-digit</span>"],
                      [[_e(h.table), _item(h.item, h.item_ja), _num(h.non_null, f"{p}.hash_totals.{j}.non_null"),
                        _num(h.distinct, f"{p}.hash_totals.{j}.distinct"), _num(h.digit_sum, f"{p}.hash_totals.{j}.digit_sum"),
                        _num(h.non_digit, f"{p}.hash_totals.{j}.non_digit")] for j, h in enumerate(m.hash_totals)],
                      {2, 3, 4, 5}))
    out.append("<h3>金額合計<span class=id>money items (yen)</span></h3>")
    if m.money_sums:
        out.append(_table(["テーブル<span class=id>table</span>", "項目<span class=id>item</span>", "件数<span class=id>records</span>",
                           "合計（円）<span class=id>sum</span>"],
                          [[_e(s.table), _item(s.item, s.item_ja), _num(s.records, f"{p}.money_sums.{j}.records"),
                            _num(s.total, f"{p}.money_sums.{j}.total")] for j, s in enumerate(m.money_sums)], {2, 3}))
    else:
        out.append("<p>このレイアウトに金額項目はありません（the layout has no money items）</p>")
    if m.money_totals:
        out.append("<h3>金額照合<span class=id>money reconciliation: source = landed + rejected + merged (yen)</span></h3>")
        heads = list(m.money_totals[0]["by"])
        out.append(_table(["項目<span class=id>item</span>"] + [_e(h) for h in heads]
                          + [f"{ja}<span class=id>{en}</span>" for ja, en in (("移行元", "source"), ("移行", "landed"),
                                                                              ("リジェクト", "rejected"), ("統合", "merged"))]
                          + ["照合"],
                          [[_e(t["item"])] + [_e(t["by"][h]) for h in heads]
                           + [_num(t[k], f"{p}.money_totals.{j}.{k}") for k in ("source", "landed", "rejected", "merged")]
                           + ["一致" if t["reconciled"] else '<span class=ng>不一致</span>']
                           for j, t in enumerate(m.money_totals)], set(range(1 + len(heads), 5 + len(heads)))))
    out.append(_columns_html(m, p))
    out.append("</section>")
    return "".join(out)


FATES = {"mapped": "移行", "kept": "保持（extras）", "dropped": "破棄", "structural": "構造"}


def _columns_html(m: MunicipalityReport, p: str) -> str:
    """Each source column's fate and its values (移行元の列), the items the export lacks, the
    constants and the checks the mapping changed."""
    out = ["<h3>移行元の列<span class=id>source columns: every value landed, rejected, merged or cleared by a "
           "rule</span></h3>"]
    if m.columns:
        rows = []
        for j, c in enumerate(m.columns):
            q = f"{p}.columns.{j}"
            counted = c["fate"] in ("mapped", "kept")
            rows.append([_e(c["file"]), _e(c["column"]), _e(FATES.get(c["fate"], c["fate"])), _e(", ".join(c["items"])),
                         _num(c["source"], f"{q}.source")]
                        + ([_num(c[k], f"{q}.{k}") for k in ("landed", "rejected", "merged")] if counted else ["", "", ""])
                        + [_e(", ".join(f"{r} {n:,}" for r, n in (c.get("cleared") or {}).items())),
                           _e(c.get("reason") or ""),
                           ("一致" if c["reconciled"] else '<span class=ng>不一致</span>') if counted else ""])
        out.append(_table(["ファイル<span class=id>file</span>", "列<span class=id>column</span>",
                           "扱い<span class=id>fate</span>", "項目<span class=id>items</span>",
                           "値の数<span class=id>values</span>", "移行<span class=id>landed</span>",
                           "リジェクト<span class=id>rejected</span>", "統合<span class=id>merged</span>",
                           "規則で空<span class=id>cleared</span>", "理由<span class=id>reason</span>", "照合"],
                          rows, {4, 5, 6, 7}))
    else:
        out.append("<p>この実行は列の記録を持ちません（the run predates column accounting）</p>")
    if m.not_provided:
        out.append("<h3>移行元にない項目<span class=id>items the export does not have (landed empty)</span></h3>")
        out.append(_table(["項目<span class=id>item</span>", "理由<span class=id>reason</span>"],
                          [[_e(f"{n['table']}.{n['item']}"), _e(n["reason"])] for n in m.not_provided], set()))
    if m.constants:
        out.append("<h3>定数で設定した項目<span class=id>items given a constant by the mapping</span></h3>")
        out.append(_table(["項目<span class=id>item</span>", "値<span class=id>value</span>"],
                          [[_e(f"{c['table']}.{c['item']}"), f"<code>{_e(c['value'])}</code>"] for c in m.constants],
                          set()))
    if m.overrides:
        out.append("<h3>マッピングが変更したチェック<span class=id>layout checks this mapping changed</span></h3>")
        out.append(_table(["項目<span class=id>item</span>", "チェック<span class=id>check</span>",
                           "変更前<span class=id>from</span>", "変更後<span class=id>to</span>"],
                          [[_e(f"{o['table']}.{o['item']}"), _e(o["check"]), _e(o["from"]),
                            ('<span class=ng>off</span>' if o["to"] == "off" else _e(o["to"]))] for o in m.overrides],
                          set()))
    return "".join(out)

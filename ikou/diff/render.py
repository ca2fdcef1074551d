"""Renderings of a DiffResult: JSON (stable keys, docs/diff.md), text and a self-contained HTML
page. Sample values have 12+ digit runs masked (compare.py)."""

from __future__ import annotations

import json
from dataclasses import asdict

from ikou.diff.compare import DiffResult
from ikou.i18n import tr
from ikou.reconciliation.html_parts import CSS, SCRIPT, bars, e, num, table


def to_dict(d: DiffResult) -> dict:
    out = asdict(d)
    out["columns"] = [asdict(c) for c in d.columns]
    out["equal"] = d.equal
    out["columns_only_left"], out["columns_only_right"] = list(d.columns_only_left), list(d.columns_only_right)
    out["keys"] = list(d.keys)
    return {"diff_format": 1, **out}


def to_json(d: DiffResult) -> str:
    return json.dumps(to_dict(d), ensure_ascii=False, indent=2) + "\n"


def render_text(d: DiffResult) -> str:
    """The comparison for a terminal or a CI log, in the current language."""
    lines = [tr("left:  {path}: {rows} rows", path=d.left, rows=d.left_rows),
             tr("right: {path}: {rows} rows", path=d.right, rows=d.right_rows),
             tr("key:   {keys}", keys=", ".join(d.keys)), "",
             tr("  matched      {matched:>12}   (equal {equal}, differing {differing})", matched=d.matched,
                equal=d.matched - d.differing, differing=d.differing),
             tr("  only left    {n:>12}", n=d.only_left), tr("  only right   {n:>12}", n=d.only_right)]
    if any(d.duplicate_keys.values()):
        lines.append(tr("  DUPLICATE KEYS: left {left} keys, right {right} keys ({left_rows} + {right_rows} rows not "
                        "compared)", left=d.duplicate_keys["left"], right=d.duplicate_keys["right"],
                        left_rows=d.duplicate_rows["left"], right_rows=d.duplicate_rows["right"]))
    diffs = [c for c in d.columns if c.differing]
    if diffs:
        lines += ["", tr("differences per column:")]
        lines += [f"  {c.column:<32} {c.rule:<16} {c.differing:>10}" for c in diffs]
    if d.columns_only_left or d.columns_only_right:
        lines += ["", tr("columns only left: {left}; only right: {right} (not compared)",
                         left=", ".join(d.columns_only_left) or "-", right=", ".join(d.columns_only_right) or "-")]
    for name in ("differing", "only_left", "only_right", "duplicate_keys"):
        rows = d.samples.get(name) or []
        if rows:
            lines += ["", tr("sample {name} (first {n}):", name=name, n=len(rows))]
            for r in rows[:5]:
                shown = {k: v for k, v in r.items() if not k.endswith("_differs") and
                         (name != "differing" or not k.endswith(("_left", "_right")) or
                          r.get(k.rsplit("_", 1)[0] + "_differs"))}
                # an empty value shows as nothing (never Python's None); text as written, spaces visible
                lines.append("  " + ", ".join(f"{k}={'' if v is None else repr(v) if isinstance(v, str) and v != v.strip() else v}"
                                              for k, v in shown.items()))
    lines += ["", tr("EQUAL within the rules") if d.equal else tr("DIFFERENT"), tr("({seconds} s)", seconds=d.seconds)]
    return "\n".join(lines) + "\n"


def _differing(d: DiffResult, rows: list[dict]) -> str:
    """The differing rows: the key, then only the columns that differ in some row shown, each as
    旧 / 新 with the differing cells marked (class d), the others dimmed."""
    columns = [c.column for c in d.columns if any(r.get(f"{c.column}_differs") for r in rows)]
    head = ("<tr>" + "".join(f'<th rowspan=2>{e(k)}</th>' for k in d.keys)
            + "".join(f"<th colspan=2>{e(c)}</th>" for c in columns) + "</tr><tr>"
            + "<th>旧<span class=id>left</span></th><th>新<span class=id>right</span></th>" * len(columns) + "</tr>")
    body = []
    for r in rows:
        cells = "".join(f"<td>{e(r.get(k))}</td>" for k in d.keys)
        for c in columns:
            mark = ' class="d"' if r.get(f"{c}_differs") else ' class="same"'
            cells += f"<td{mark}>{e(r.get(f'{c}_left'))}</td><td{mark}>{e(r.get(f'{c}_right'))}</td>"
        body.append(f"<tr>{cells}</tr>")
    return f'<table class="diff"><thead>{head}</thead><tbody>{"".join(body)}</tbody></table>'


def render_html(d: DiffResult) -> str:
    data = to_dict(d)
    cards = "".join(
        f'<div class=card><div>{ja}<span class=id>{k}</span></div><div class=v>{num(getattr(d, k), k)}</div></div>'
        for k, ja in (("left_rows", "旧システム件数"), ("right_rows", "新システム件数"), ("matched", "一致キー"),
                      ("differing", "差異あり"), ("only_left", "旧のみ"), ("only_right", "新のみ")))
    dups = "".join(f'<div class=card><div>重複キー（{side}）<span class=id>duplicate_keys.{side}</span></div>'
                   f'<div class=v>{num(n, f"duplicate_keys.{side}")}</div></div>' for side, n in d.duplicate_keys.items())
    status = ('<span class=ok data-k="equal" data-v="true">差異なし（equal）</span>' if d.equal
              else '<span class=ng data-k="equal" data-v="false">差異あり（different）</span>')
    cols = [c for c in d.columns]
    chart = bars([(c.column, c.differing) for c in cols if c.differing], "#c62828", 220)
    col_table = table(["項目<span class=id>column</span>", "新側の項目<span class=id>right column</span>",
                        "比較規則<span class=id>rule</span>", "差異件数<span class=id>differing</span>"],
                       [[e(c.column), e(c.right_column), e(c.rule), num(c.differing, f"columns.{i}.differing")]
                        for i, c in enumerate(cols)], {3})
    samples = []
    for name, ja in (("differing", "差異のある行"), ("only_left", "旧システムのみ"), ("only_right", "新システムのみ"),
                     ("duplicate_keys", "重複キー")):
        rows = d.samples.get(name) or []
        if not rows:
            continue
        if name == "differing":
            samples.append(f"<h3>{ja}<span class=id>{name} (first {len(rows)})</span></h3>" + _differing(d, rows))
            continue
        heads = [k for k in rows[0] if not k.endswith("_differs")]
        samples.append(f"<h3>{ja}<span class=id>{name} (first {len(rows)})</span></h3>"
                       + table([e(h) for h in heads], [[e(r.get(h)) for h in heads] for r in rows], set()))
    payload = json.dumps(data, ensure_ascii=False).replace("</", "<\\/")
    return ("<!DOCTYPE html>\n<html lang=ja><head><meta charset=utf-8><title>並行稼働 突合結果</title>"
            f"<style>{CSS}</style></head><body><h1>並行稼働 突合結果<span class=id>parallel-run diff</span></h1>"
            f"<p>旧 <code>{e(d.left)}</code> ／ 新 <code>{e(d.right)}</code> ／ キー <code>{e(', '.join(d.keys))}</code>"
            f"・{status}</p><div class=cards>{cards}{dups}</div>"
            f"<h2>項目別の差異<span class=id>differences per column</span></h2>{chart}{col_table}"
            + "".join(samples)
            + f'<script type="application/json" id="ikou-diff">{payload}</script><script>{SCRIPT}</script>'
            "</body></html>\n")

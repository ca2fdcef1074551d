"""Small HTML pieces the diff page still builds in code (the reconciliation report is a template:
templates/report.html.j2): escaping, a number with its JSON path, a sortable table, a bar chart,
and the report's stylesheet and script, which both pages share."""

from __future__ import annotations

import html
from importlib import resources

_TEMPLATES = resources.files("ikou.reconciliation").joinpath("templates")
CSS = _TEMPLATES.joinpath("report.css").read_text(encoding="utf-8")
SCRIPT = _TEMPLATES.joinpath("report.js").read_text(encoding="utf-8")


def e(x) -> str:
    return html.escape("" if x is None else str(x))


def num(value: int | str, key: str) -> str:
    """A number as shown (thousands separators) with its JSON path in data-k and its raw value in data-v."""
    shown = f"{int(value):,}"
    return f'<span data-k="{e(key)}" data-v="{e(value)}">{shown}</span>'


def table(headers: list[str], rows: list[list[str]], numeric: set[int], table_id: str = "") -> str:
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f'<td class="n">{c}</td>' if i in numeric else f"<td>{c}</td>"
                                    for i, c in enumerate(r)) + "</tr>" for r in rows)
    tid = f' id="{table_id}"' if table_id else ""
    return f'<table class="sortable"{tid}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def bars(rows: list[tuple[str, int]], color: str = "#1565c0", label_width: int = 260) -> str:
    """Horizontal bar chart (inline SVG) of labelled counts."""
    if not rows:
        return ""
    top = max(n for _, n in rows) or 1
    width, bar_h = 420, 18
    parts = []
    for k, (label, n) in enumerate(rows):
        y = k * (bar_h + 6)
        w = max(1, round(width * n / top)) if n else 0
        parts.append(f'<text x="{label_width - 6}" y="{y + 13}" text-anchor="end" font-size="12">{e(label)}</text>'
                     f'<rect x="{label_width}" y="{y}" width="{w}" height="{bar_h}" fill="{color}"/>'
                     f'<text x="{label_width + w + 4}" y="{y + 13}" font-size="12">{n:,}</text>')
    height = len(rows) * (bar_h + 6)
    return (f'<svg role="img" width="{label_width + width + 80}" height="{height}" '
            f'xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg>')

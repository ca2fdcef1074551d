"""Text and JSON renderings of a layout, for `ikou layouts show`."""

from __future__ import annotations

import json
from dataclasses import asdict
import unicodedata

from ikou.layout import Item, Layout


def _width(s: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


def _pad(s: str, n: int) -> str:
    return s + " " * max(0, n - _width(s))


def _checks(item: Item) -> str:
    parts = []
    for c in item.checks:
        label = {"pattern": f"pattern {c.arg}", "range": "range [{}]".format(c.arg.replace(",", ", "))}.get(
            c.kind, f"check digit {c.arg}")
        parts.append(label + (f" [{c.level}]" if c.level != item.level else ""))
    return "; ".join(parts)


def layout_text(layout: Layout) -> str:
    out = [f"layout {layout.id} ({layout.name_ja}) version {layout.version}", ""]
    for table in layout.tables.values():
        out.append(f"table {table.id} ({table.name_ja}): {len(table.items)} items")
        header = ["id", "日本語名", "type", "len", "req", "level", "profile", "code table", "checks"]
        rows = [[it.id, it.name_ja, it.type, str(it.length or ""), "yes" if it.required else "",
                 it.level, it.profile, it.code_table or "", _checks(it) + (" (sensitive: masked)" if it.sensitive else "")]
                for it in table.items]
        widths = [max(_width(r[i]) for r in rows + [header]) for i in range(len(header))]
        for r in [header] + rows:
            out.append("  " + "  ".join(_pad(c, w) for c, w in zip(r, widths)).rstrip())
        out.append("  date items also land <id>_status (unknown, impossible, outside_era, invalid; null for a plain date) "
                   "and <id>_text (the original text whenever the status is set)")
        if table.duplicate_keys:
            out.append("  duplicate keys: " + "; ".join(" + ".join(k) for k in table.duplicate_keys))
        if table.household:
            h = table.household
            out.append(f"  household rule: {h.household}, heads {list(h.head_codes)} in {h.relationship}, "
                       f"latest {h.version} per {h.person}, active when {dict(h.active_when)}")
        for ref in table.references:
            out.append(f"  reference: {' + '.join(ref.items)} must be a {ref.layout}.{ref.table} "
                       f"{' + '.join(ref.to)} of the same municipality ({ref.code}, {ref.level})")
        if table.money_totals_by:
            out.append(f"  money totals (金額照合) of {', '.join(table.money_items)} by {', '.join(table.money_totals_by)}")
        if table.date_order:
            out.append("  date order (alerts): " + "; ".join(f"{a} <= {b}" for a, b in table.date_order))
        if table.matching:
            roles = {k: v for k, v in asdict(table.matching).items() if v}
            out.append("  matching (probabilistic dedup): " + ", ".join(
                f"{k} {'+'.join(v) if isinstance(v, tuple) else v}" for k, v in roles.items()))
        out.append("")
    out.append("code tables:")
    for ct in layout.code_tables.values():
        flag = " (provisional)" if ct.provisional else ""
        out.append(f"  {ct.id} ({ct.name_ja}){flag}: " + ", ".join(f"{k} {v}" for k, v in ct.codes.items()))
        if ct.note:
            out.append(f"    note: {ct.note}")
    return "\n".join(out) + "\n"


def layout_json(layout: Layout) -> str:
    data = {
        "layout": layout.id, "name_ja": layout.name_ja, "version": layout.version,
        "tables": {t.id: {
            "name_ja": t.name_ja,
            "items": [{"id": it.id, "name_ja": it.name_ja, "type": it.type, "length": it.length,
                       "required": it.required, "level": it.level, "profile": it.profile,
                       "code_table": it.code_table, "sensitive": it.sensitive,
                       "checks": [{"kind": c.kind, "arg": c.arg, "level": c.level} for c in it.checks],
                       "columns": [name for name, _ in it.columns()]} for it in t.items],
            "duplicate_keys": [list(k) for k in t.duplicate_keys],
            "matching": asdict(t.matching) if t.matching else None,
            "references": [asdict(r) for r in t.references],
            "money_totals_by": list(t.money_totals_by),
        } for t in layout.tables.values()},
        "code_tables": {c.id: {"name_ja": c.name_ja, "codes": c.codes, "provisional": c.provisional}
                        for c in layout.code_tables.values()},
    }
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"

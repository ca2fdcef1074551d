"""Build ikou/schemas/resident.yaml from the public reconstruction of the 住民基本台帳 基本データリスト
(../shared/standard/juki_items.tsv, juki_codes.tsv) and ikou's hand-written decisions
(ikou/schemas/resident.overlay.yaml).

    python scripts/build_resident_layout.py [--standard DIR] [--check]

The TSVs give every item (its Japanese name exactly, group, width, code table, sources, note)
and every code table with its codes; the overlay gives ids, types, profiles, checks, levels,
code-table statuses, the table's rules and ikou's extension items. A TSV row without an overlay
entry, or an overlay entry without a TSV row, stops the build: each needs a decision. --check
writes nothing and exits 1 if the committed layout is not what the inputs give (CI runs the same
comparison as a test).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
LAYOUT = ROOT / "ikou" / "schemas" / "resident.yaml"
OVERLAY = ROOT / "ikou" / "schemas" / "resident.overlay.yaml"
STANDARD = ROOT.parent / "shared" / "standard"

TYPES = {"text": "string", "code": "string", "flag": "string", "time": "string", "integer": "integer", "date": "date"}
PROFILES = {"code": "code", "flag": "code", "integer": "digits", "text": "text", "time": "text"}
# source keys of the TSVs -> the codebase they belong to (PROVENANCE.md): several keys of one
# codebase are one witness, not several
CODEBASES = {"MADO-dev_init": "MADO", "MADO-init": "MADO", "MADO-perm": "MADO", "MADO-perm2": "MADO",
             "MADO-docs": "MADO", "afjumin": "youkei", "afjutogai": "youkei", "afcodes": "youkei", "r4g": "r4g",
             "stdspec": "stdspec", "jdddd": "jdddd"}
ITEM_KEYS = ("id", "name_ja", "type", "length", "width", "precision", "scale", "profile", "required", "level",
             "code_table", "code_system", "checks", "sensitive", "unknown_flag", "unknown_text", "group",
             "provenance", "sources", "note")


class BuildError(Exception):
    pass


def _tsv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))


def _sources(text: str) -> list[str]:
    return [s for s in text.split(",") if s]


def _provenance(sources: list[str]) -> str:
    unknown = [s for s in sources if s not in CODEBASES]
    if unknown:
        raise BuildError(f"unknown source keys {unknown}: add them to CODEBASES")
    return "attested" if len({CODEBASES[s] for s in sources}) >= 2 else "single_source"


def build(standard: Path = STANDARD, overlay_path: Path = OVERLAY) -> str:
    """The text of resident.yaml for these inputs (deterministic)."""
    items_tsv, codes_tsv = standard / "juki_items.tsv", standard / "juki_codes.tsv"
    rows, code_rows = _tsv(items_tsv), _tsv(codes_tsv)
    overlay = yaml.safe_load(overlay_path.read_text(encoding="utf-8"))
    problems: list[str] = []

    # code tables, in the order of first appearance in juki_codes.tsv
    tables: dict[str, list[dict[str, str]]] = {}
    for r in code_rows:
        tables.setdefault(r["code_table"], []).append(r)
    ov_tables = overlay["code_tables"]
    problems += [f"code table {t} of juki_codes.tsv has no entry in the overlay" for t in tables if t not in ov_tables]
    problems += [f"overlay code table {t} is not in juki_codes.tsv" for t in ov_tables if t not in tables]
    code_tables, table_ids = {}, {}
    for name, codes in tables.items():
        ov = ov_tables.get(name, {})
        table_ids[name] = ov.get("id", name)
        notes = {r["code"]: r["note"] for r in codes if r["note"]}
        entry: dict = {"name_ja": name, "codes": {r["code"]: r["name_ja"] for r in codes}}
        if ov.get("status", "enforced") != "enforced":
            entry["status"] = ov["status"]
        for key in ("forbidden", "unconfirmed"):
            marked = [str(c) for c in ov.get(key, [])]
            missing = [c for c in marked if c not in entry["codes"]]
            if missing:
                problems.append(f"overlay code table {name}: {key} codes {missing} are not in juki_codes.tsv")
            if marked:
                entry[key] = {c: notes.get(c, "see the sources") for c in marked}
        if ov.get("provisional"):
            entry["provisional"] = True
        if ov.get("note"):
            entry["note"] = " ".join(str(ov["note"]).split())
        entry["sources"] = sorted({s for r in codes for s in _sources(r["sources"])})
        others = {c: n for c, n in notes.items() if c not in entry.get("forbidden", {})
                  and c not in entry.get("unconfirmed", {})}
        if others:
            entry["code_notes"] = others
        code_tables[table_ids[name]] = entry

    # items, in the order of juki_items.tsv, ikou's extensions placed after their neighbour
    names = [r["item_ja"] for r in rows]
    ov_items = overlay["items"]
    problems += [f"item {n} of juki_items.tsv has no entry in the overlay" for n in names if n not in ov_items]
    problems += [f"overlay item {n} is not in juki_items.tsv" for n in ov_items if n not in names]
    ids = {n: ov_items[n]["id"] for n in names if n in ov_items}
    extensions: dict[str, list[dict]] = {}
    for ext in overlay.get("extensions", []):
        if ext["after"] not in names:
            problems.append(f"extension {ext['item']['id']}: 'after' names no item ({ext['after']})")
        extensions.setdefault(ext["after"], []).append(dict(ext["item"], provenance="extension"))
    items: list[dict] = []
    for r in rows:
        ov = ov_items.get(r["item_ja"])
        if ov is None:
            continue
        hint = r["type_hint"]
        kind = ov.get("type", TYPES.get(hint))
        if kind is None:
            problems.append(f"item {r['item_ja']}: type_hint {hint!r} has no ikou type: give one in the overlay")
            continue
        item: dict = {"id": ov["id"], "name_ja": r["item_ja"], "type": kind}
        if kind == "string" and r["width"]:
            item["width"] = int(r["width"])
        if kind != "date":
            item["profile"] = PROFILES.get(hint, "text")
        if r["code_table"]:
            if r["code_table"] in table_ids:
                item["code_table"] = table_ids[r["code_table"]]
            else:
                item["code_system"] = r["code_table"]
        if kind == "date":
            for suffix, key in (("_不詳フラグ", "unknown_flag"), ("_不詳表記", "unknown_text")):
                if r["item_ja"] + suffix in ids:
                    item[key] = ids[r["item_ja"] + suffix]
        sources = _sources(r["sources"])
        item |= {k: v for k, v in ov.items() if k not in ("id",)}
        item["group"] = r["group"]
        item.setdefault("provenance", _provenance(sources))
        item["sources"] = sources
        if r["note"]:
            item["note"] = r["note"]
        items.append(item)
        items += extensions.get(r["item_ja"], [])
    if problems:
        raise BuildError("\n".join(problems))

    t = overlay["table"]
    table = {"name_ja": t["name_ja"], **{k: v for k, v in t.items() if k not in ("id", "name_ja")},
             "items": [{k: it[k] for k in ITEM_KEYS if k in it} for it in items]}
    digest = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (items_tsv, codes_tsv, overlay_path)}
    generated = {"by": "scripts/build_resident_layout.py", "from": "../shared/standard/ (juki_items.tsv, "
                 "juki_codes.tsv) and ikou/schemas/resident.overlay.yaml", **{f"sha256 {k}": v for k, v in digest.items()}}
    return _render(overlay, generated, code_tables, t["id"], table)


def _flow(value) -> str:
    text = yaml.safe_dump(value, allow_unicode=True, default_flow_style=True, width=10 ** 6, sort_keys=False)
    return text.removesuffix("\n...\n").strip()  # a scalar is dumped as a document with an end marker


def _render(overlay: dict, generated: dict, code_tables: dict, table_id: str, table: dict) -> str:
    out = ["# 住民記録 (resident records): the standard layout ikou migrates into. GENERATED — do not edit by hand:",
           "# change ../shared/standard/*.tsv or ikou/schemas/resident.overlay.yaml and run",
           "#     python scripts/build_resident_layout.py",
           "# Every item of the 住民基本台帳 基本データリスト reconstruction (../shared/standard/PROVENANCE.md)",
           "# with ikou's decisions from the overlay. Reference for every key: docs/layouts.md.",
           f"layout: {overlay['layout']}", f"name_ja: {overlay['name_ja']}", f"version: {_flow(overlay['version'])}",
           "generated:"]
    out += [f"  {_flow(k)}: {_flow(v)}" for k, v in generated.items()]
    out.append("code_tables:")
    for ct_id, ct in code_tables.items():
        out.append(f"  {ct_id}:")
        out += [f"    {k}: {_flow(v)}" for k, v in ct.items()]
    out += ["tables:", f"  {table_id}:"]
    for key, value in table.items():
        if key == "items":
            out.append("    items:")
            out += [f"      - {_flow(it)}" for it in value]
        elif isinstance(value, dict) and key in ("household", "matching", "history"):
            out.append(f"    {key}:")
            out += [f"      {k}: {_flow(v)}" for k, v in value.items()]
        else:
            out.append(f"    {key}: {_flow(value)}")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--standard", type=Path, default=STANDARD, help="folder of juki_items.tsv and juki_codes.tsv")
    ap.add_argument("--check", action="store_true", help="compare with the committed layout, write nothing")
    args = ap.parse_args(argv)
    try:
        text = build(args.standard)
    except BuildError as exc:
        print(f"cannot build the layout:\n{exc}", file=sys.stderr)
        return 2
    if args.check:
        same = LAYOUT.read_text(encoding="utf-8") == text
        print(f"{LAYOUT.relative_to(ROOT)} is {'current' if same else 'NOT current: run the script'}")
        return 0 if same else 1
    LAYOUT.write_text(text, encoding="utf-8")
    print(f"wrote {LAYOUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Build ikou's Fujitsu JEF and Hitachi KEIS tables from the jef4j mapping files (Apache-2.0).

Run once by a maintainer where the jef4j JSON files are (by default ../shared/realdata/
mainframe_codes); writes ikou/codecs/data/*.tsv (hex code, tab, code points) and keeps the
attribution in ikou/codecs/data/NOTICE. Decisions taken here (docs/development.md):

- where two or more JEF codes share a base character (the extended area repeats standard
  characters in other glyphs), the standard-area code decodes to the plain character and each
  other code to the base character plus its 汎用電子 (``hd``) IVS selector, the collection that
  follows the MJ glyphs of 行政事務標準文字: distinct registered characters stay distinct, and
  common text stays plain;
- ``encode_only`` entries are left out of decoding; JEF's ``unmappable`` codes (no Unicode) get
  private-use code points U+F000… in code order, and its user-defined area 80A1–A0FE gets
  U+E000 + row × 94 + cell (as CP932 maps its own): both then are 外字 that a municipality's
  外字 table maps, or that are reported, never guessed.

    python scripts/build_vendor_tables.py [path/to/mainframe_codes]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "ikou" / "codecs" / "data"
SOURCE = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "realdata" / "mainframe_codes"


JEF_USER_AREA = (0x80, 0xA0)  # rows of JEF's user-defined area (外字), cells A1-FE
USER_PUA = 0xE000  # user area -> U+E000 + row offset * 94 + cell offset (as CP932 maps its own)
UNMAPPABLE_PUA = 0xF000  # codes with no Unicode at all -> U+F000 + n, in code order


def table(name: str, *, ivs: bool, unmappable_to_pua: bool = False) -> dict[str, str]:
    out: dict[str, str] = {}
    unmappable: list[str] = []
    entries = json.loads((SOURCE / f"{name}_mapping.json").read_text(encoding="utf-8"))
    codes_of: dict[str, set[str]] = {}
    for e in entries:
        if not {"encode_only", "unmappable"} & set(e["options"]):
            codes_of.setdefault(e["unicode"].upper(), set()).add(e["code"].upper())
    for e in entries:
        opts = set(e["options"])
        if "unmappable" in opts:
            unmappable.append(e["code"].upper())
            continue
        if "encode_only" in opts:
            continue
        code = e["code"].upper()
        points = e["unicode"].split()
        sharing = codes_of[e["unicode"].upper()]
        standard = [c for c in sharing if int(c[:2], 16) >= 0xA1]
        # the standard-area code of a shared character decodes plainly; the other codes keep
        # their selector, which tells them apart from it
        if ivs and e.get("hd") and len(sharing) > 1 and not (code in standard and len(standard) == 1):
            points.append(e["hd"])
        # a code listed twice (cjk_ci duplicates) keeps its first, canonical entry
        out.setdefault(code, " ".join(p.upper() for p in points))
    if unmappable_to_pua:
        for n, code in enumerate(sorted(set(unmappable), key=lambda c: int(c, 16))):
            out[code] = f"{UNMAPPABLE_PUA + n:04X}"
    return out


def jef_user_area() -> dict[str, str]:
    return {f"{row:02X}{cell:02X}": f"{USER_PUA + (row - JEF_USER_AREA[0]) * 94 + (cell - 0xA1):04X}"
            for row in range(JEF_USER_AREA[0], JEF_USER_AREA[1] + 1) for cell in range(0xA1, 0xFF)}


def write(name: str, rows: dict[str, str]) -> None:
    lines = [f"{code}\t{points}" for code, points in sorted(rows.items(), key=lambda kv: int(kv[0], 16))]
    (DATA / name).write_text("\n".join(lines) + "\n", encoding="ascii")
    print(f"{name}: {len(lines)} mappings")


def main() -> None:
    write("jef_dbcs.tsv", {**table("fujitsu_jef", ivs=True, unmappable_to_pua=True), **jef_user_area()})
    write("fujitsu_ebcdik.tsv", table("fujitsu_ebcdik", ivs=False))
    write("fujitsu_ebcdic.tsv", table("fujitsu_ebcdic", ivs=False))
    write("keis83_dbcs.tsv", table("hitachi_keis83", ivs=False))
    write("hitachi_ebcdik.tsv", table("hitachi_ebcdik", ivs=False))
    (DATA / "NOTICE").write_text(
        "ikou/codecs/data/jef_dbcs.tsv, fujitsu_ebcdik.tsv, fujitsu_ebcdic.tsv, keis83_dbcs.tsv and\n"
        "hitachi_ebcdik.tsv are derived from the mapping tables of jef4j\n"
        "(https://github.com/hidekatsu-izuno/jef4j, src/test/resources/*.json, commit 0e4e9fd7),\n"
        "licensed under the Apache License, Version 2.0. Copyright: the jef4j author.\n"
        "ibm930_sbcs.tsv, ibm939_sbcs.tsv and ibm300_dbcs.tsv are generated from the GNU C Library's\n"
        "IBM930/IBM939 conversion tables (scripts/build_ibm_tables.py).\n", encoding="utf-8")


if __name__ == "__main__":
    main()

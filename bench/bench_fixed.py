"""Benchmark: fixed-width extraction against the CSV extraction of the same records, same run.

Both exports come from the same planted records (same residents, same seed): the サクラ CSV
(CP932) and the ミドリ fixed-width file (CP932, packed and zoned numbers, header/trailer). Each
extractor streams its whole file; the script prints records per second for both and the ratio
fixed/CSV, best of --repeat runs. Not a test.

    python bench/bench_fixed.py --residents 1000000
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ikou.extract.csv_file import CsvExtractor
from ikou.extract.fixed_width import FixedExtractor
from ikou.fixtures.generator import generate
from ikou.fixtures.vendors import generate_fixed
from ikou.mapping import load_mapping

ROOT = Path(__file__).resolve().parents[1]


def extract(kind, path: Path, source) -> tuple[float, int, int]:
    ex = kind(path, path.name, source, 16 << 20)
    t = time.perf_counter()
    rows = rejects = 0
    for chunk in ex.chunks():
        rows += chunk.frame.height
        rejects += chunk.rejects.height
    return time.perf_counter() - t, rows, rejects


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--residents", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=20261126)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--workdir", type=Path, default=ROOT / "build" / "bench-fixed")
    args = ap.parse_args()
    csv_dir, fixed_dir = args.workdir / f"csv-{args.residents}", args.workdir / f"fixed-{args.residents}"
    if not (csv_dir / "expected.csv").exists():
        print("generating the CSV export …", flush=True)
        generate(csv_dir, residents=args.residents, seed=args.seed)
    if not (fixed_dir / "expected.csv").exists():
        print("generating the fixed-width export of the same records …", flush=True)
        generate_fixed(fixed_dir, residents=args.residents, seed=args.seed)
    csv_source = load_mapping(ROOT / "mappings" / "sakuragaoka_991015.yaml").sources[0]
    fixed_source = load_mapping(ROOT / "mappings" / "midori_991023.yaml").sources[0]
    csv_file, fixed_file = next(csv_dir.glob("JUMIN_*.csv")), next(fixed_dir.glob("MIDORI_*.DAT"))
    csv_runs, fixed_runs = [], []
    for _ in range(args.repeat):  # alternate, so both see the same machine conditions
        csv_runs.append(extract(CsvExtractor, csv_file, csv_source))
        fixed_runs.append(extract(FixedExtractor, fixed_file, fixed_source))
    (csv_s, csv_rows, csv_rej), (fixed_s, fixed_rows, fixed_rej) = min(csv_runs), min(fixed_runs)
    result = {"residents": args.residents, "csv_seconds": round(csv_s, 2), "csv_records": csv_rows + csv_rej,
              "csv_mb": round(csv_file.stat().st_size / 1e6, 1), "fixed_seconds": round(fixed_s, 2),
              "fixed_records": fixed_rows + fixed_rej, "fixed_mb": round(fixed_file.stat().st_size / 1e6, 1),
              "ratio_fixed_over_csv": round(fixed_s / csv_s, 2)}
    (args.workdir / "bench_fixed_result.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"CSV extraction    {csv_s:6.2f} s  {result['csv_records']:,} records  {result['csv_mb']} MB "
          f"({result['csv_records'] / csv_s:,.0f} records/s)")
    print(f"fixed extraction  {fixed_s:6.2f} s  {result['fixed_records']:,} records  {result['fixed_mb']} MB "
          f"({result['fixed_records'] / fixed_s:,.0f} records/s)")
    print(f"ratio fixed/CSV   {result['ratio_fixed_over_csv']}")


if __name__ == "__main__":
    main()

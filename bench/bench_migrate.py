"""Benchmark: `ikou migrate` on N generated residents against the floor measured in the same run.

The floor is the least any migration of this file must do: decode the CP932 bytes, parse the CSV
with polars and write it as Parquet. Both run as separate processes (interpreter start and
imports included); the script prints wall times, the ratio migrate/floor and each process's
peak RSS, and writes them to <workdir>/bench_result.json. Not a test: timings vary by machine,
which is why only the ratio against a floor measured alongside is meaningful. The mapping is the
bundled one with ``dedup.method: exact``: probabilistic dedup has its own benchmark
(bench/bench_dedup.py).

    python bench/bench_migrate.py --residents 1000000      (make bench runs it in .venv-bench: ikou
                                                           installed without the test extras)

``--ablate PARTS`` (repeatable, e.g. ``--ablate pandera --ablate cleanse,duckdb_table``) also runs
migrate with those parts replaced by nothing (bench/ablation.py), in the same rounds: how far each
part stands between the run and the target.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from ablation import PARTS, check_parts
from measure import measure

import ikou.fixtures.generator as generator

ROOT = Path(__file__).resolve().parents[1]
MAPPING = ROOT / "mappings" / "sakuragaoka_991015.yaml"
TARGET_RATIO = 3.0
TARGET_RSS_GB = 2.0

FLOOR = """
import sys, polars as pl
data = open(sys.argv[1], "rb").read()
text = data.decode("cp932", errors="replace")          # the planted invalid bytes must not stop it
frame = pl.read_csv(text.encode("utf-8"), skip_rows=2, infer_schema=False, truncate_ragged_lines=True)
frame.write_parquet(sys.argv[2])
print(frame.height)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--residents", type=int, default=1_000_000)
    ap.add_argument("--workdir", type=Path, default=ROOT / "build" / "bench")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each; the best is reported")
    ap.add_argument("--ablate", action="append", default=[], metavar="PARTS",
                    help=f"also run without these comma-separated parts ({', '.join(PARTS)})")
    args = ap.parse_args()
    for parts in args.ablate:
        check_parts({p for p in parts.split(",") if p})
    work = args.workdir
    # an export written by another version of the fixture generators is written again
    stamp = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(Path(generator.__file__).parent.glob("*.py"))
                                    )).hexdigest()[:16]
    export = work / f"export-{args.residents}-{stamp}"
    if not (export / "expected.csv").exists():
        subprocess.run(["rm", "-rf", *map(str, work.glob(f"export-{args.residents}*"))], check=True)
        print(f"generating {args.residents:,} residents into {export} …", flush=True)
        subprocess.run([sys.executable, "-m", "ikou", "fixtures", "generate", "--out", str(export),
                        "--residents", str(args.residents)], check=True)
    csv_file = next(export.glob("JUMIN_*.csv"))
    size_mb = csv_file.stat().st_size / 1e6

    mapping = work / "mapping_exact.yaml"  # beside the export: the decisions path stays relative
    mapping.write_text(MAPPING.read_text(encoding="utf-8").replace("method: probabilistic", "method: exact"),
                       encoding="utf-8")
    floors, migrates = [], []
    ablated: dict[str, list[tuple[float, float, str]]] = {parts: [] for parts in args.ablate}
    for _ in range(args.repeat):
        # the measurements alternate so that all of them see the same machine conditions
        floors.append(measure([sys.executable, "-c", FLOOR, str(csv_file), str(work / "floor.parquet")]))
        out = work / "out"
        migrate_args = ["migrate", "--mapping", str(mapping), "--input", str(export), "--out", str(out), "--json"]
        subprocess.run(["rm", "-rf", str(out)], check=True)
        migrates.append(measure([sys.executable, "-m", "ikou", *migrate_args]))
        for parts, runs in ablated.items():
            subprocess.run(["rm", "-rf", str(out)], check=True)
            runs.append(measure([sys.executable, str(Path(__file__).with_name("ablation.py")), "--without", parts,
                                 "--", *migrate_args]))
    floor = min(floors, key=lambda m: m[0])
    best = min(migrates, key=lambda m: m[0])
    summary = json.loads(best[2])
    ratio = best[0] / floor[0]
    result = {
        "residents": args.residents, "records": summary["totals"]["source_records"], "file_mb": round(size_mb, 1),
        "floor_seconds": round(floor[0], 2), "floor_peak_rss_gb": round(floor[1], 2),
        "migrate_seconds": round(best[0], 2), "migrate_peak_rss_gb": round(best[1], 2),
        "ratio": round(ratio, 2), "target_ratio": TARGET_RATIO, "target_rss_gb": TARGET_RSS_GB,
        "reconciled": summary["reconciled"], "migrate_phases": summary["timings_seconds"],
        "cpu_count": os.cpu_count(),
        "ablated": {parts: {"migrate_seconds": round(min(runs)[0], 2), "ratio": round(min(runs)[0] / floor[0], 2)}
                    for parts, runs in ablated.items()},
    }
    (work / "bench_result.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"records          {result['records']:,} ({size_mb:.0f} MB CP932)")
    print(f"floor            {floor[0]:6.2f} s   peak RSS {floor[1]:.2f} GB   (decode + read_csv + write_parquet)")
    print(f"ikou migrate     {best[0]:6.2f} s   peak RSS {best[1]:.2f} GB   reconciled={summary['reconciled']}")
    print(f"ratio            {ratio:6.2f}     (target <= {TARGET_RATIO}; RSS target <= {TARGET_RSS_GB} GB)")
    print(f"phases           {summary['timings_seconds']}")
    for parts, numbers in result["ablated"].items():
        print(f"without {parts}: {numbers['migrate_seconds']:.2f} s, ratio {numbers['ratio']:.2f}")


if __name__ == "__main__":
    main()

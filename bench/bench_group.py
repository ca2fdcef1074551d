"""Benchmark a 自治体クラウド group run: its members in parallel against the same members one after
another, in the same run (not a test).

    python bench/bench_group.py [--scale 10] [--repeat 1]

Generates the fictional group (3 municipalities × resident + 個人住民税; --scale 10 is 50,000 +
30,000 + 20,000 residents and about 400,000 tax rows), then runs `ikou migrate-group` with
--jobs 1 and with the default (as many members at once as cores and memory allow) into fresh
OUT folders, and prints both wall times and the ratio. Writes build/bench-group/result.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from measure import measure

ROOT = Path(__file__).resolve().parents[1]
GROUP = ROOT / "mappings" / "sakura_cloud" / "group.yaml"


def run(work: Path, jobs: list[str]) -> tuple[float, float, dict]:
    out = work / "out"
    shutil.rmtree(out, ignore_errors=True)
    wall, rss, stdout = measure([sys.executable, "-m", "ikou", "migrate-group", str(GROUP), "--input-root",
                                 str(work / "in"), "--out", str(out), "--json", *jobs])
    return wall, rss, json.loads(stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=10.0)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--work", type=Path, default=ROOT / "build" / "bench-group")
    args = ap.parse_args()
    stamp = args.work / "in" / f".scale-{args.scale}"
    if not stamp.exists():
        shutil.rmtree(args.work / "in", ignore_errors=True)
        print(f"generating the group at scale {args.scale} …", flush=True)
        subprocess.run([sys.executable, "-m", "ikou", "fixtures", "generate-group", "--out", str(args.work / "in"),
                        "--scale", str(args.scale)], check=True)
        stamp.touch()
    best: dict[str, float] = {}
    summaries = {}
    for _ in range(args.repeat):
        for name, jobs in (("sequential", ["--jobs", "1"]), ("parallel", [])):
            wall, _, summary = run(args.work, jobs)
            assert summary["succeeded"] == ["991015", "991023", "991031"], summary["failed"]
            best[name] = min(best.get(name, wall), wall)
            summaries[name] = summary
    assert summaries["sequential"]["totals"] == summaries["parallel"]["totals"]
    result = {"scale": args.scale, "records": summaries["parallel"]["totals"]["source_records"],
              "cpu_count": os.cpu_count(), "jobs": summaries["parallel"]["jobs"],
              "sequential_seconds": round(best["sequential"], 2), "parallel_seconds": round(best["parallel"], 2),
              "speedup": round(best["sequential"] / best["parallel"], 2)}
    print(f"{result['records']:,} records, {result['cpu_count']} cores")
    print(f"members one after another (--jobs 1)     {result['sequential_seconds']:>8} s")
    print(f"members in parallel (--jobs {result['jobs']})          {result['parallel_seconds']:>8} s")
    print(f"speed-up {result['speedup']}×")
    (args.work / "result.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

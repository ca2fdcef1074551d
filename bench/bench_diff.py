"""Benchmark `ikou diff` against DuckDB's bare FULL OUTER JOIN with column comparison, in the
same run (not a test).

Two Parquet datasets of ROWS rows × 20 columns (a BIGINT key, integers, decimals, text, dates),
the right one with 0.1 % of its rows changed in one column, 0.01 % deleted and 0.01 % added.
Both commands run as their own process (peak RSS measured per process):

- baseline: one DuckDB query, FULL OUTER JOIN on the key, counting only-left, only-right and
  per-column differences (IS DISTINCT FROM), nothing kept;
- ikou: `ikou diff --left L --right R --key id --out DIR` (duplicate-key check, per-column rules,
  full difference tables written to DIR/diff.duckdb, JSON and HTML).

    python bench/bench_diff.py [--rows 10000000] [--repeat 1]

Prints the times, the ratio (target ≤ 1.5) and the peak RSS, and writes build/bench-diff/result.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import duckdb
from measure import measure

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = 20


def generate(folder: Path, rows: int) -> tuple[Path, Path, dict]:
    left, right = folder / f"left-{rows}.parquet", folder / f"right-{rows}.parquet"
    planted = {"changed": rows // 1000, "deleted": rows // 10000, "added": rows // 10000}
    if left.exists() and right.exists():
        return left, right, planted
    folder.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    cols = ["i as id"]
    for k in range(1, COLUMNS):
        kind = k % 4
        if kind == 0:
            cols.append(f"(i * {k}) % 1000003 as c{k}")
        elif kind == 1:
            cols.append(f"cast(((i * {k}) % 100000) / 100.0 as decimal(12, 2)) as c{k}")
        elif kind == 2:
            cols.append(f"'v' || ((i * {k}) % 50021) as c{k}")
        else:
            cols.append(f"date '1950-01-01' + cast((i * {k}) % 25000 as integer) as c{k}")
    con.execute(f"create table l as select {', '.join(cols)} from range({rows}) t(i)")
    con.execute(f"copy l to '{left}' (format parquet)")
    step_changed, step_deleted = 1000, 10000
    con.execute(f"""
        copy (
          select id, c1, case when id % {step_changed} = 7 then c2 || 'x' else c2 end as c2,
                 {', '.join(f'c{k}' for k in range(3, COLUMNS))}
          from l where id % {step_deleted} <> 3
          union all
          select {rows} + id, {', '.join(f'c{k}' for k in range(1, COLUMNS))} from l where id < {rows // 10000}
        ) to '{right}' (format parquet)""")
    con.close()
    return left, right, planted


BASELINE = """
import sys, duckdb
left, right = sys.argv[1], sys.argv[2]
cols = [c for c in duckdb.sql(f"describe select * from read_parquet('{left}')").pl()["column_name"] if c != "id"]
flags = ", ".join(f"count(*) filter (l.{c} is distinct from r.{c} and l.id is not null and r.id is not null)"
                  for c in cols)
con = duckdb.connect()
con.execute("set enable_progress_bar = false")
row = con.execute(f"select count(*) filter (r.id is null), count(*) filter (l.id is null), {flags} "
                  f"from read_parquet('{left}') l full outer join read_parquet('{right}') r on l.id = r.id").fetchall()[0]
print(row[0], row[1], sum(row[2:]))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--work", type=Path, default=ROOT / "build" / "bench-diff")
    args = ap.parse_args()
    print(f"generating {args.rows:,} rows × {COLUMNS} columns (left and right Parquet) …", flush=True)
    left, right, planted = generate(args.work, args.rows)
    best: dict[str, tuple[float, float]] = {}
    for _ in range(args.repeat):
        wall, rss, out = measure([sys.executable, "-c", BASELINE, str(left), str(right)])
        only_l, only_r, diffs = (int(x) for x in out.split())
        assert (only_l, only_r, diffs) == (planted["deleted"], planted["added"], planted["changed"]), out
        best["baseline"] = min(best.get("baseline", (wall, rss)), (wall, rss))
        out_dir = args.work / "out"
        wall, rss, out = measure([sys.executable, "-m", "ikou", "diff", "--left", str(left), "--right", str(right),
                              "--key", "id", "--out", str(out_dir), "--json"])
        summary = json.loads(out)
        assert (summary["only_left"], summary["only_right"], summary["differing"]) == (
            planted["deleted"], planted["added"], planted["changed"]), summary
        best["ikou"] = min(best.get("ikou", (wall, rss)), (wall, rss))
    ratio = best["ikou"][0] / best["baseline"][0]
    result = {"rows": args.rows, "columns": COLUMNS, "planted": planted, "cpu_count": os.cpu_count(),
              "baseline_seconds": round(best["baseline"][0], 2), "baseline_peak_rss_gb": round(best["baseline"][1], 2),
              "ikou_seconds": round(best["ikou"][0], 2), "ikou_peak_rss_gb": round(best["ikou"][1], 2),
              "ratio": round(ratio, 2), "target_ratio": 1.5}
    print(f"baseline (bare FULL OUTER JOIN)  {result['baseline_seconds']:>7} s  peak RSS {result['baseline_peak_rss_gb']} GB")
    print(f"ikou diff                        {result['ikou_seconds']:>7} s  peak RSS {result['ikou_peak_rss_gb']} GB")
    print(f"ratio {result['ratio']} (target ≤ 1.5)")
    (args.work / "result.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

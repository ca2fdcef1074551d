"""Benchmark: ikou against what a migration team would otherwise use, on the same export, in the
same run (not a test: only ratios measured side by side mean anything).

- **floor**: decode CP932, polars read_csv, write_parquet (bench_migrate.py's floor);
- **ikou migrate** with every check (the bundled mapping, exact dedup);
- **pandas + pandera**: a hand-written script with 14 comparable checks (required items, digit
  and length profiles, code values, dates, the duplicate key, one 世帯主 per household), lazily
  validated, the failing rows set aside, the rest written as Parquet;
- **dlt into DuckDB**, its fastest documented path: the file read into Arrow and handed to a
  pipeline as one table (no validation: dlt checks types, not content);
- **DuckDB read_csv** on a pre-decoded UTF-8 copy (decoding not counted; no validation).

Each runs as its own process (interpreter start and imports included); the best of ``--repeat``
is reported with its peak RSS, its ratio to the floor and to ikou, and, for the validating peers,
how many of the export's planted defects (expected.csv: the records ikou must reject) it set
aside. The peers need the bench extra: ``pip install -e '.[bench]'``.

    python bench/bench_peers.py --residents 1000000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
from measure import measure

ROOT = Path(__file__).resolve().parents[1]
MAPPING = ROOT / "mappings" / "sakuragaoka_991015.yaml"

FLOOR = """
import sys, polars as pl
text = open(sys.argv[1], "rb").read().decode("cp932", errors="replace")
frame = pl.read_csv(text.encode("utf-8"), skip_rows=2, infer_schema=False, truncate_ragged_lines=True)
frame.write_parquet(sys.argv[2])
print(frame.height)
"""

PANDERA = r"""
import json, sys
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

frame = pd.read_csv(sys.argv[1], encoding="cp932", encoding_errors="replace", skiprows=2, dtype=str,
                    keep_default_na=False, on_bad_lines="skip", engine="c")
frame.insert(0, "_line", frame.index + 4)  # physical line of each record (two metadata rows, the header)
digits = lambda n: pa.Check.str_matches(rf"^[0-9]{{{n}}}$")
schema = pa.DataFrameSchema({
    "宛名番号": pa.Column(str, [digits(10)]),
    "履歴番号": pa.Column(str, [pa.Check.str_matches(r"^[0-9]+$")]),
    "世帯番号": pa.Column(str, [digits(10)]),
    "住民票コード": pa.Column(str, [pa.Check.str_matches(r"^([0-9]{11})?$")]),
    "個人番号": pa.Column(str, [pa.Check.str_matches(r"^([0-9]{12})?$")]),
    "住民種別": pa.Column(str, [pa.Check.isin(["J", "G"])]),
    "住民状態": pa.Column(str, [pa.Check.isin(["1", "3", "4", "9"])]),
    "氏名": pa.Column(str, [pa.Check.str_length(min_value=1)]),
    "性別": pa.Column(str, [pa.Check.isin(["男", "女"])]),
    "生年月日": pa.Column(str, [pa.Check(lambda s: s.str.len() > 0, element_wise=False)]),
    "続柄": pa.Column(str, [pa.Check.isin(["01", "02", "03", "04", "05", "06", "07", "08", "09", "10"])]),
    "郵便番号": pa.Column(str, [pa.Check.str_matches(r"^([0-9]{3}-?[0-9]{4})?$")]),
}, unique=["宛名番号", "履歴番号", "枝番号"], strict=False, coerce=False)
bad = set()
try:
    schema.validate(frame, lazy=True)
except SchemaErrors as exc:
    cases = exc.failure_cases
    bad |= set(int(i) for i in cases["index"].dropna())
heads = frame[frame["続柄"] == "01"].groupby("世帯番号").size()  # one 世帯主 per household
bad |= set(frame.index[frame["世帯番号"].isin(heads[heads > 1].index)])
ok = frame.drop(index=sorted(bad))
ok.to_parquet(sys.argv[2])
print(json.dumps({"landed": len(ok), "set_aside_lines": sorted(int(x) for x in frame.loc[sorted(bad), "_line"])}))
"""

DLT = """
import os, sys
os.environ["SCHEMA__NAMING"] = "direct"  # dlt's default snake_case naming turns every Japanese column into 'x'
import dlt, polars as pl
text = open(sys.argv[1], "rb").read().decode("cp932", errors="replace")
table = pl.read_csv(text.encode("utf-8"), skip_rows=2, infer_schema=False, truncate_ragged_lines=True).to_arrow()
pipeline = dlt.pipeline(pipeline_name="peer", destination=dlt.destinations.duckdb(sys.argv[2]),
                        dataset_name="jumin", pipelines_dir=sys.argv[3])
pipeline.run([table], table_name="resident", loader_file_format="parquet")
print(table.num_rows)
"""

DUCKDB = """
import sys, duckdb
con = duckdb.connect(sys.argv[2])
con.execute("create or replace table resident as select * from read_csv(?, skip=2, header=true, all_varchar=true, "
            "ignore_errors=true)", [sys.argv[1]])
print(con.execute("select count(*) from resident").fetchall()[0][0])
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--residents", type=int, default=1_000_000)
    ap.add_argument("--workdir", type=Path, default=ROOT / "build" / "bench-peers")
    ap.add_argument("--repeat", type=int, default=1, help="rounds; the best of each is reported")
    args = ap.parse_args()
    work = args.workdir
    export = work / f"export-{args.residents}"
    if not (export / "expected.csv").exists():
        subprocess.run([sys.executable, "-m", "ikou", "fixtures", "generate", "--out", str(export),
                        "--residents", str(args.residents)], check=True)
    csv_file = next(export.glob("JUMIN_*.csv"))
    utf8 = work / "decoded.csv"  # DuckDB's reader is given the decoded copy: decoding is not counted for it
    utf8.write_bytes(csv_file.read_bytes().decode("cp932", errors="replace").encode("utf-8"))
    mapping = work / "mapping_exact.yaml"
    mapping.write_text(MAPPING.read_text(encoding="utf-8").replace("method: probabilistic", "method: exact"),
                       encoding="utf-8")
    expected = pl.read_csv(export / "expected.csv", infer_schema=False)
    planted = set(expected.filter(pl.col("fate") == "rejected")["line"].cast(pl.Int64).to_list())
    runs: dict[str, list[tuple[float, float, str]]] = {k: [] for k in ("floor", "ikou", "pandas+pandera", "dlt",
                                                                         "duckdb")}
    for _ in range(args.repeat):  # interleaved: every tool sees the same machine conditions
        runs["floor"].append(measure([sys.executable, "-c", FLOOR, str(csv_file), str(work / "floor.parquet")],
                                     ok=(0,)))
        subprocess.run(["rm", "-rf", str(work / "out")], check=True)
        runs["ikou"].append(measure([sys.executable, "-m", "ikou", "--quiet", "migrate", "--mapping", str(mapping),
                                     "--input", str(export), "--out", str(work / "out"), "--json"]))
        runs["pandas+pandera"].append(measure([sys.executable, "-c", PANDERA, str(csv_file),
                                               str(work / "pandera.parquet")], ok=(0,)))
        subprocess.run(["rm", "-rf", str(work / "dlt.duckdb"), str(work / "dlt-pipelines")], check=True)
        runs["dlt"].append(measure([sys.executable, "-c", DLT, str(csv_file), str(work / "dlt.duckdb"),
                                    str(work / "dlt-pipelines")], ok=(0,)))
        subprocess.run(["rm", "-f", str(work / "peer.duckdb")], check=True)
        runs["duckdb"].append(measure([sys.executable, "-c", DUCKDB, str(utf8), str(work / "peer.duckdb")], ok=(0,)))
    best = {k: min(v, key=lambda m: m[0]) for k, v in runs.items()}
    floor, ikou = best["floor"][0], best["ikou"][0]
    summary = json.loads(best["ikou"][2])
    con = duckdb.connect(str(work / "out" / "ikou.duckdb"), read_only=True)
    rejected_lines = {r[0] for r in con.execute("select source_line from rejects").fetchall()}
    con.close()
    pandera = json.loads(best["pandas+pandera"][2])
    caught = {"ikou": len(planted & rejected_lines),
              "pandas+pandera": len(planted & set(pandera["set_aside_lines"]))}
    result = {"residents": args.residents, "records": summary["totals"]["source_records"],
              "planted_rejects": len(planted), "reconciled": summary["reconciled"], "tools": {}}
    print(f"{summary['totals']['source_records']:,} records, {len(planted):,} planted defects that must be rejected")
    landed = {"ikou": summary["totals"]["landed"], "pandas+pandera": pandera["landed"]}
    landed |= {k: int(best[k][2].split()[-1]) for k in ("floor", "dlt", "duckdb")}  # each prints its rows
    print(f"{'tool':<16} {'seconds':>8} {'/floor':>7} {'/ikou':>7} {'peak RSS':>9} {'rows kept':>10}  validates  "
          "planted defects set aside")
    for name, (seconds, rss, _) in best.items():
        validates = name in ("ikou", "pandas+pandera")
        row = {"seconds": round(seconds, 2), "ratio_floor": round(seconds / floor, 2),
               "ratio_ikou": round(seconds / ikou, 2), "peak_rss_gb": round(rss, 2), "validates": validates,
               "planted_caught": caught.get(name), "rows_kept": landed[name]}
        result["tools"][name] = row
        shown = f"{caught[name]:,} of {len(planted):,}" if name in caught else "-"
        print(f"{name:<16} {seconds:8.2f} {row['ratio_floor']:7.2f} {row['ratio_ikou']:7.2f} {rss:8.2f}G "
              f"{landed[name]:>10,}  "
              f"{'yes' if validates else 'no':<9}  {shown}")
    (work / "bench_peers.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

"""Benchmark: `ikou migrate` at growing sizes, with the peak RSS of each phase (not a test).

For each size (default 100k, 1M, 3M, 10M residents; the generator adds history records, so a
file holds ~1.6 % more records than residents) the script generates the export once, measures the
floor and the migrate in the same round, and prints wall time, peak RSS, the ratio to the floor
and the peak RSS of each phase (check, extract, resolve, assemble, reconcile, land), read from
the run's own JSON progress events while /proc/<pid>/status is sampled every 50 ms. The result
is also written to <workdir>/bench_scale.json.

The floor here reads the file in pieces of about 64 MB cut at line ends (decode CP932, polars
read_csv, one Parquet row group per piece): bench_migrate.py's floor decodes the whole file at
once, which needs ~2 GB per million records and cannot run at 10 million. Both floors do the
same work per byte; this one is bounded.

    python bench/bench_scale.py --sizes 100000,1000000,3000000,10000000

Linux only (/proc). Disk: ~0.35 GB of export and ~0.5 GB of OUT per million residents.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAPPING = ROOT / "mappings" / "sakuragaoka_991015.yaml"
TARGET_RSS_GB = 2.0

FLOOR = """
import sys, polars as pl, pyarrow.parquet as pq
PIECE = 64 << 20
header = None
writer = None
rows = 0
with open(sys.argv[1], "rb") as fh:
    fh.readline(); fh.readline()                       # the export's two comment lines
    header = fh.readline().decode("cp932").rstrip("\\r\\n").split(",")
    rest = b""
    while True:
        block = fh.read(PIECE)
        data = rest + block
        if not block:
            cut = len(data)
        else:
            cut = data.rfind(b"\\n") + 1
        piece, rest = data[:cut], data[cut:]
        if piece:
            text = piece.decode("cp932", errors="replace")
            frame = pl.read_csv(text.encode("utf-8"), has_header=False, new_columns=header, infer_schema=False,
                                truncate_ragged_lines=True)
            table = frame.to_arrow()
            if writer is None:
                writer = pq.ParquetWriter(sys.argv[2], table.schema)
            writer.write_table(table.cast(writer.schema))
            rows += frame.height
        if not block:
            break
if writer is not None:
    writer.close()
print(rows)
"""


def sample(cmd: list[str]) -> dict:
    """Run ``cmd`` (an ikou command with ``--log-format json``): wall seconds, exit code, peak RSS
    over the whole run and per phase (with the RSS when the phase began: what the phase itself
    took is the difference), and standard output."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    phase, peaks, starts, at_start, out = ["start"], {}, {}, {}, []
    t0 = time.perf_counter()

    def rss_now() -> float | None:
        try:
            with open(f"/proc/{proc.pid}/status") as fh:
                return next((int(x.split()[1]) for x in fh if x.startswith("VmRSS")), 0) / 1024 / 1024
        except (FileNotFoundError, ProcessLookupError):
            return None

    def note(name: str, rss: float | None) -> None:
        if rss is not None:
            peaks[name] = max(peaks.get(name, 0.0), rss)

    def follow() -> None:
        for line in proc.stderr:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            name = event.get("phase") if isinstance(event, dict) else None
            if name and name != phase[0]:
                phase[0] = name
                starts.setdefault(name, time.perf_counter() - t0)
                rss = rss_now()
                if rss is not None:
                    at_start.setdefault(name, rss)
                note(name, rss)  # a phase shorter than the sampling interval is still seen

    readers = [threading.Thread(target=follow, daemon=True),
               threading.Thread(target=lambda: out.append(proc.stdout.read()), daemon=True)]
    for r in readers:
        r.start()
    while proc.poll() is None:
        note(phase[0], rss_now())
        time.sleep(0.05)
    wall = time.perf_counter() - t0
    for r in readers:
        r.join(timeout=5)
    return {"seconds": wall, "exit_code": proc.returncode, "peak_rss_gb": max(peaks.values(), default=0.0),
            "phases": {k: {"started_at": round(starts.get(k, 0.0), 1), "peak_rss_gb": round(v, 3),
                           "start_rss_gb": round(at_start.get(k, 0.0), 3)} for k, v in peaks.items()},
            "stdout": "".join(out)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100000,1000000,3000000,10000000",
                    help="comma-separated numbers of residents")
    ap.add_argument("--workdir", type=Path, default=ROOT / "build" / "bench-scale")
    args = ap.parse_args()
    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    mapping = work / "mapping_exact.yaml"
    mapping.write_text(MAPPING.read_text(encoding="utf-8").replace("method: probabilistic", "method: exact"),
                       encoding="utf-8")
    ikou = [sys.executable, "-m", "ikou"]
    series = []
    for residents in [int(s) for s in args.sizes.split(",") if s]:
        export = work / f"export-{residents}"
        if not (export / "expected.csv").exists():
            print(f"generating {residents:,} residents …", flush=True)
            subprocess.run([*ikou, "fixtures", "generate", "--out", str(export), "--residents", str(residents)],
                           check=True)
        csv_file = next(export.glob("JUMIN_*.csv"))
        floor = sample([sys.executable, "-c", FLOOR, str(csv_file), str(work / "floor.parquet")])
        out = work / "out"
        subprocess.run(["rm", "-rf", str(out)], check=True)
        run = sample([*ikou, "--log-format", "json", "migrate", "--mapping", str(mapping), "--input", str(export),
                      "--out", str(out), "--json"])
        if run["exit_code"] not in (0, 1):
            raise SystemExit(f"migrate of {residents:,} residents ended with exit code {run['exit_code']}")
        summary = json.loads(run["stdout"])
        row = {"residents": residents, "records": summary["totals"]["source_records"],
               "file_mb": round(csv_file.stat().st_size / 1e6, 1),
               "floor_seconds": round(floor["seconds"], 2), "floor_peak_rss_gb": round(floor["peak_rss_gb"], 2),
               "migrate_seconds": round(run["seconds"], 2), "migrate_peak_rss_gb": round(run["peak_rss_gb"], 3),
               "ratio": round(run["seconds"] / floor["seconds"], 2), "reconciled": summary["reconciled"],
               "phases": run["phases"]}
        series.append(row)
        subprocess.run(["rm", "-rf", str(out)], check=True)
        print(f"{row['records']:>11,} records  floor {row['floor_seconds']:7.1f} s  migrate {row['migrate_seconds']:7.1f}"
              f" s  ratio {row['ratio']:5.2f}  peak RSS {row['migrate_peak_rss_gb']:.2f} GB"
              f" (target <= {TARGET_RSS_GB})  reconciled={row['reconciled']}", flush=True)
        print("             " + "  ".join(f"{k} {v['peak_rss_gb']:.2f}" for k, v in row["phases"].items()), flush=True)
    base = next((r for r in series if r["residents"] == 1_000_000), None)
    for r in series:
        if base is not None:
            r["time_vs_1m"] = round(r["migrate_seconds"] / base["migrate_seconds"], 2)
    (work / "bench_scale.json").write_text(json.dumps({"cpu_count": os.cpu_count(), "series": series}, indent=2)
                                           + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

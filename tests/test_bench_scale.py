"""bench/bench_scale.py at a tiny size: the series it prints is made of real runs (a reconciled
migrate, the floor's rows, a peak RSS for every phase the run went through), not of defaults."""

from __future__ import annotations

import json
import subprocess
import sys

import polars as pl

from tests.conftest import ROOT


def test_the_scale_series_measures_every_phase(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_scale.py"), "--sizes", "2000",
                           "--workdir", str(tmp_path)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (row,) = json.loads((tmp_path / "bench_scale.json").read_text(encoding="utf-8"))["series"]
    assert row["reconciled"] and row["records"] >= 2000
    assert {"extract", "resolve resident", "assemble", "reconcile", "land"} <= set(row["phases"])
    assert all(0.05 < p["peak_rss_gb"] <= row["migrate_peak_rss_gb"] for p in row["phases"].values())
    # the bounded floor read every record of the export (the two comment lines and the header aside)
    export = next((tmp_path / "export-2000").glob("JUMIN_*.csv"))
    assert pl.read_parquet(tmp_path / "floor.parquet").height == row["records"], export
    assert f"{row['records']:,} records" in proc.stdout

"""The set-level phases keep their memory flat as the export grows (issue 20): what resolve,
assemble and reconcile take (peak RSS while the phase ran, minus the RSS when it began) hardly
changes from an export of 400,000 residents to one three times larger. Measured on real CLI
runs by bench/bench_scale.py's sampler, with jemalloc handing freed memory back at once
(otherwise memory kept from the extract hides what a phase takes) and two polars threads.

Dry runs: the landing's DuckDB has a memory limit of its own and loads beside these phases, so
with it the measure would be DuckDB's. Both sizes are above ~400k records because below that
polars' streaming buffers are still filling up (row groups, prefetch), which looks like growth
and is not.

Holding a value of every record in a phase costs bytes per record. Measured on this pair of
sizes, the code before this test took 161 bytes a record more in resolve (a join of every
record with its person's latest, a group_by of every duplicate key) and failed it; its assemble
(52: the lineage of every record sorted at once) and reconcile (73) stayed under the limit here
and showed at 10 million records (docs/development.md). The limit, 80 bytes a record, leaves
room for what resolve does keep: the 8-byte key hashes ``repeated_hashes`` sorts, and one count
per household (51 bytes a record measured; assemble 8, reconcile 45)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

from ikou.fixtures.generator import generate
from tests.conftest import ROOT

SMALL, LARGE = 400_000, 1_200_000
SET_LEVEL_PHASES = ("resolve resident", "assemble", "reconcile")
BYTES_PER_RECORD = 80


def _bench_scale():
    spec = importlib.util.spec_from_file_location("bench_scale", ROOT / "bench" / "bench_scale.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_set_level_phases_take_no_more_memory_for_a_larger_export(tmp_path, monkeypatch):
    monkeypatch.setenv("POLARS_MAX_THREADS", "2")
    monkeypatch.setenv("_RJEM_MALLOC_CONF", "dirty_decay_ms:0,muzzy_decay_ms:0")
    mapping = tmp_path / "mapping.yaml"  # exact dedup: splink's scoring is bounded by its own DuckDB limit
    mapping.write_text((ROOT / "mappings" / "sakuragaoka_991015.yaml").read_text(encoding="utf-8")
                       .replace("method: probabilistic", "method: exact"), encoding="utf-8")
    runs = []
    for residents in (SMALL, LARGE):
        export = generate(tmp_path / f"export-{residents}", residents=residents)
        run = _bench_scale().sample([sys.executable, "-m", "ikou", "--log-format", "json", "migrate", "--dry-run",
                                     "--mapping", str(mapping), "--input", str(export.path.parent), "--json"])
        assert run["exit_code"] == 0, run["stdout"][-2000:]
        runs.append((export.records, run["phases"]))
        subprocess.run(["rm", "-rf", str(export.path.parent)], check=True)  # 0.4 GB of disk
    (small_records, small), (large_records, large) = runs
    taken = {}
    for phase in SET_LEVEL_PHASES:
        took = [p[phase]["peak_rss_gb"] - p[phase]["start_rss_gb"] for p in (small, large)]
        taken[phase] = round((took[1] - took[0]) * 2 ** 30 / (large_records - small_records), 1)
    print(f"bytes per record the {LARGE:,}-resident run's phases took beyond the {SMALL:,}-resident run's: {taken}")
    assert all(b <= BYTES_PER_RECORD for b in taken.values()), taken
    # the extract is bounded by its chunks, whatever the size
    assert large["extract"]["peak_rss_gb"] < small["extract"]["peak_rss_gb"] + 0.2

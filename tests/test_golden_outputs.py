"""The landed tables of every fixture vendor, held to golden digests: a restructuring of the
pipeline must leave what lands byte for byte as it was (IKOU_REGENERATE_GOLDEN=1 rewrites them
after an intended change; the diff of the JSON then shows which table moved)."""

from __future__ import annotations

import hashlib
import json

import duckdb

from .conftest import ROOT
from .test_report import check_golden

# run ids and times differ from run to run; everything else must not
VOLATILE = {"run_id", "started_at", "finished_at", "duration_seconds"}


def table_digests(out) -> dict:
    con = duckdb.connect(str(out / "ikou.duckdb"), read_only=True)
    try:
        tables = [r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_name <> 'runs' order by 1").fetchall()]
        digests = {}
        for table in tables:
            columns = [r[0] for r in con.execute(f'describe "{table}"').fetchall() if r[0] not in VOLATILE]
            rows = con.execute(f'select {", ".join(chr(34) + c + chr(34) for c in columns)} from "{table}"').fetchall()
            h = hashlib.sha256()
            for line in sorted(map(repr, rows)):
                h.update(line.encode() + b"\n")
            digests[table] = {"rows": len(rows), "columns": len(columns), "sha256": h.hexdigest()}
        return digests
    finally:
        con.close()


def test_landed_tables_match_their_golden_digests(vendor_run, request):
    out, _ = vendor_run
    vendor = request.node.callspec.params["vendor_run"]
    check_golden(f"landed/{vendor}.json", json.dumps(table_digests(out), indent=1, sort_keys=True) + "\n")
    assert (ROOT / "tests" / "golden" / "landed" / f"{vendor}.json").exists()

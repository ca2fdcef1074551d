"""Counts of a `make fuzz` run, from the JSON lines tests/test_cli_fuzz.py wrote (IKOU_FUZZ_LOG):
exports per format and exit code, records read, and records checked against an independent count."""

from __future__ import annotations

import json
import sys
from collections import Counter


def main(path: str) -> None:
    rows = [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
    by_exit = Counter((r["format"], r["exit"]) for r in rows)
    print(f"{len(rows):,} mutated exports")
    for (fmt, code), n in sorted(by_exit.items()):
        print(f"  {fmt or '(none)':6} exit {code}: {n:,}")
    read = sum(r["source"] or 0 for r in rows)
    checked = [r for r in rows if r["independent"] is not None]
    print(f"records read: {read:,}; exports counted independently: {len(checked):,} "
          f"({sum(r['independent'] for r in checked):,} records, all equal to ikou's count, or the test fails)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "out/fuzz.jsonl")

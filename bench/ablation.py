"""`ikou` with parts of the migration replaced by nothing: where the benchmark's time goes.

    python bench/ablation.py --without pandera,duckdb_table -- migrate --mapping M --input I --out O

Not for real migrations: the output of an ablated run is wrong by construction (no cleansing, no
pandera issues …). It answers one question for the speed target of ``make bench``: how long would
the run take if a part cost nothing? ``bench_migrate.py --ablate`` runs it beside the full run and
the floor. The parts:

- ``cleanse``: text profiles and date parsing; every item keeps its extracted text, every date
  becomes 2000-01-01 (so no date issue is found);
- ``pandera``: the pandera schema's data checks (no failure cases);
- ``changes``: the ``cleansing_changes`` rows;
- ``gaiji``: the 外字 counts;
- ``duckdb_table``: the copy of the layout's tables (``resident`` …) into ``ikou.duckdb``; the run
  tables are still loaded.
"""

from __future__ import annotations

import sys

PARTS = ("cleanse", "pandera", "changes", "gaiji", "duckdb_table")


def check_parts(parts: set[str]) -> None:
    unknown = parts - set(PARTS)
    if unknown or not parts:
        raise SystemExit(f"unknown part(s) {', '.join(sorted(unknown)) or '(none named)'}: "
                         f"choose from {', '.join(PARTS)}")


def main(argv: list[str]) -> None:
    if len(argv) < 3 or argv[0] != "--without" or "--" not in argv:
        raise SystemExit(__doc__)
    split = argv.index("--")
    parts = {p for p in argv[1].split(",") if p}
    from ikou.launch import set_up_allocators
    set_up_allocators()  # as ikou's entry point does, before polars loads
    from ikou.cli import cli
    check_parts(parts)
    # the run takes the parts away itself (RunOptions.without): nothing here patches ikou
    cli(args=argv[split + 1:], prog_name="ikou", obj={"without": frozenset(parts)})


if __name__ == "__main__":
    main(sys.argv[1:])

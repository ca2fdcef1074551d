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

import datetime as dt
import os
import sys

PARTS = ("cleanse", "pandera", "changes", "gaiji", "duckdb_table")


def check_parts(parts: set[str]) -> None:
    unknown = parts - set(PARTS)
    if unknown or not parts:
        raise SystemExit(f"unknown part(s) {', '.join(sorted(unknown)) or '(none named)'}: "
                         f"choose from {', '.join(PARTS)}")


def ablate(parts: set[str]) -> None:
    """Replace the named parts of the pipeline by stubs (this process only)."""
    import polars as pl

    from ikou.pipeline import extract, findings, landing, stages
    from ikou.validators import schema

    check_parts(parts)
    if "pandera" in parts:
        findings.failure_issues = lambda ts, frame: pl.DataFrame(schema=schema.ISSUE_SCHEMA)
    if "changes" in parts:
        extract.changes = lambda ctx, frame: pl.DataFrame(schema={
            "_row": pl.Int64, "item": pl.String, "rules": pl.String, "original": pl.String, "cleansed": pl.String})
    if "gaiji" in parts:
        extract.gaiji_counts = lambda ctx, frame: pl.DataFrame(schema=findings.GAIJI_SCHEMA)
    if "duckdb_table" in parts:
        replace = landing._replace_partition
        landing._replace_partition = lambda con, table, *a, **k: (
            replace(con, table, *a, **k) if table in landing.RUN_TABLES else None)
    if "cleanse" in parts:
        def cleanse(ctx: stages.Context) -> stages.Stage:
            cols = []
            for item in ctx.fed_items:
                if item.is_date:
                    cols += [pl.lit(dt.date(2000, 1, 1)).alias(item.id), pl.lit(None, pl.String).alias(f"{item.id}_status"),
                             pl.lit(None, pl.String).alias(f"{item.id}_text"),
                             pl.lit("ok").alias(f"{item.id}__status")]
                else:
                    cols += [pl.col(f"{item.id}__raw").alias(item.id), pl.lit(False).alias(f"{item.id}__changed")]
                    cols += [pl.lit(False).alias(f"{item.id}__step_{st.name}") for st in stages.steps(ctx, item)]
            return "cleanse", lambda lf: lf.with_columns(cols)
        stages.cleanse = cleanse


def main(argv: list[str]) -> None:
    if len(argv) < 3 or argv[0] != "--without" or "--" not in argv:
        raise SystemExit(__doc__)
    split = argv.index("--")
    parts = {p for p in argv[1].split(",") if p}
    from ikou.cli import ALLOCATOR_SETTINGS, cli  # ikou.cli does not load polars
    os.environ.setdefault(*ALLOCATOR_SETTINGS)  # as ikou's entry point does, before polars loads
    ablate(parts)
    cli(args=argv[split + 1:], prog_name="ikou")


if __name__ == "__main__":
    main(sys.argv[1:])

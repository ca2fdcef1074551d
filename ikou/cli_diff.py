"""``ikou diff``: two datasets compared by business key for the parallel run (並行稼働);
the comparison itself is ikou/diff/ (docs/diff.md)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ikou.errors import IkouError
from ikou.i18n import tr


def _pairs(values: tuple[str, ...], what: str) -> list[tuple[str, str]]:
    out = []
    for v in values:
        a, sep, b = v.partition("=")
        if not sep or not a or not b:
            raise IkouError(tr("{what} {v!r}: write NAME=VALUE", what=what, v=v), hint=tr("e.g. {what} 氏名=name", what=what))
        out.append((a, b))
    return out


def _diff_spec(key: str | None, rules_file: Path | None, maps: tuple[str, ...], tolerances: tuple[str, ...],
               texts: tuple[str, ...], dates: tuple[str, ...], ignore: tuple[str, ...], samples: int):
    import yaml

    from ikou.diff.compare import RULE_KINDS, DiffSpec, Rule

    conf: dict = {}
    if rules_file is not None:
        try:
            conf = yaml.safe_load(rules_file.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise IkouError(tr("rules file {rules_file} cannot be read: {exc}", rules_file=rules_file, exc=exc)) from exc
        if not isinstance(conf, dict):
            raise IkouError(tr("rules file {rules_file}: expected a mapping with key, columns, rules, ignore",
                               rules_file=rules_file))
    problems = [f"rules file: unknown key {k!r}" for k in conf if k not in ("key", "columns", "rules", "ignore")]
    keys = [k for k in (key.split(",") if key else conf.get("key") or []) if k]
    if not keys:
        raise IkouError(tr("no key: give --key COL[,COL…] (or key: in the rules file)"))
    column_map = dict(conf.get("columns") or {}) | dict(_pairs(maps, "--map"))
    rules: dict[str, Rule] = {}
    for col, r in (conf.get("rules") or {}).items():
        if isinstance(r, str) and r in RULE_KINDS:
            rules[col] = Rule(r)
        elif isinstance(r, dict) and set(r) == {"numeric"}:
            rules[col] = Rule("numeric", str(r["numeric"]))
        else:
            problems.append(tr("rules file: rule for {col!r} must be exact, text, date or {{numeric: "
                               "TOLERANCE}}",
                               col=col))
    for col, tol in _pairs(tolerances, "--tolerance"):
        try:
            float(tol)
        except ValueError:
            problems.append(tr("--tolerance {col}={tol}: {tol!r} is not a number", col=col, tol=tol))
        rules[col] = Rule("numeric", tol)
    rules |= {c: Rule("text") for c in texts} | {c: Rule("date") for c in dates}
    if problems:
        raise IkouError(tr("the diff's rules are not usable; nothing was compared"), problems=problems)
    return DiffSpec(keys=tuple(keys), column_map=tuple(column_map.items()), rules=tuple(rules.items()),
                    ignore=tuple(conf.get("ignore") or ()) + ignore, samples=samples)


@click.command()
@click.option("--left", "left", required=True, type=click.Path(path_type=Path),
              help="Old system's data: a CSV file, a Parquet file or folder, a DuckDB file (with --left-table), or "
                   "an export folder read through --left-mapping.")
@click.option("--right", "right", required=True, type=click.Path(path_type=Path), help="New system's data, as --left.")
@click.option("--key", help="Business key column(s), comma-separated, by their left names, e.g. atena_number.")
@click.option("--left-encoding", default="auto", show_default=True, help="CSV encoding: auto, cp932, utf-8, utf-8-sig.")
@click.option("--right-encoding", default="auto", show_default=True, help="As --left-encoding.")
@click.option("--left-skip-rows", type=click.IntRange(0), default=0, help="CSV rows before the header.")
@click.option("--right-skip-rows", type=click.IntRange(0), default=0, help="CSV rows before the header.")
@click.option("--left-table", help="Table to compare when --left is a DuckDB file.")
@click.option("--right-table", help="Table to compare when --right is a DuckDB file.")
@click.option("--left-mapping", type=click.Path(path_type=Path),
              help="Read --left (a folder) with this mapping's sources: fixed-width, XML or CSV exports.")
@click.option("--right-mapping", type=click.Path(path_type=Path), help="As --left-mapping.")
@click.option("--map", "maps", multiple=True, metavar="LEFT=RIGHT", help="A column named differently on the right.")
@click.option("--tolerance", "tolerances", multiple=True, metavar="COL=X",
              help="Numeric column equal within X (exact decimals; a difference of exactly X is equal).")
@click.option("--text", "texts", multiple=True, metavar="COL",
              help="Compare after width folding (ｶﾅ = カナ, ＡＢ１ = AB1) and space trimming.")
@click.option("--date", "dates", multiple=True, metavar="COL",
              help="Compare as dates in any form (令和2年4月1日 = R02.04.01 = 2020-04-01 = 20200401).")
@click.option("--ignore", multiple=True, metavar="COL", help="Do not compare this column.")
@click.option("--rules", "rules_file", type=click.Path(path_type=Path),
              help="YAML with key, columns (left: right), rules (col: exact|text|date|{numeric: X}), ignore.")
@click.option("--out", "out", type=click.Path(path_type=Path),
              help="Folder for diff.duckdb (the full difference tables), diff.json and diff.html.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--html", "html_path", type=click.Path(path_type=Path), help="Write the HTML page here.")
@click.option("--samples", type=click.IntRange(0, 1000), default=20, show_default=True,
              help="Sample rows of each finding kept in the summary.")
def diff(left: Path, right: Path, key: str | None, left_encoding: str, right_encoding: str, left_skip_rows: int,
         right_skip_rows: int, left_table: str | None, right_table: str | None, left_mapping: Path | None,
         right_mapping: Path | None, maps: tuple[str, ...], tolerances: tuple[str, ...], texts: tuple[str, ...],
         dates: tuple[str, ...], ignore: tuple[str, ...], rules_file: Path | None, out: Path | None, as_json: bool,
         html_path: Path | None, samples: int) -> None:
    """Compare two datasets by business key, for the parallel-run period (並行稼働): old system vs
    new system output. Counts only-left, only-right, matched and differing rows, differences per
    column, and duplicate keys on either side as findings of their own. Runs in DuckDB (beyond
    memory). Exit 0 equal within the rules, 1 different, 2 bad input. docs/diff.md."""
    import shutil
    import tempfile

    from ikou.db import connect
    from ikou.diff.compare import run_diff
    from ikou.diff.render import render_html, render_text, to_json
    from ikou.diff.sources import Side
    from ikou.progress import for_command

    spec = _diff_spec(key, rules_file, maps, tolerances, texts, dates, ignore, samples)
    sides = (Side(left, left_encoding, left_skip_rows, table=left_table, mapping=left_mapping),
             Side(right, right_encoding, right_skip_rows, table=right_table, mapping=right_mapping))
    work = Path(tempfile.mkdtemp(prefix="ikou-diff-"))
    progress = for_command()
    try:
        db = work / "diff.duckdb"
        con = connect(db)
        try:
            con.execute(f"set temp_directory = '{work / 'spill'}'")
            progress.phase("diff: read and compare by key")
            result = run_diff(con, *sides, spec, work)
        finally:
            con.close()
        progress.phase("diff: write")
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            shutil.move(str(db), out / "diff.duckdb.partial")
            (out / "diff.duckdb.partial").replace(out / "diff.duckdb")
            (out / "diff.json").write_text(to_json(result), encoding="utf-8")
            (out / "diff.html").write_text(render_html(result), encoding="utf-8")
        if html_path is not None:
            html_path.parent.mkdir(parents=True, exist_ok=True)
            html_path.write_text(render_html(result), encoding="utf-8")
    except BaseException:
        progress.finish(ok=False)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    progress.finish()
    click.echo(to_json(result) if as_json else render_text(result), nl=False)
    sys.exit(0 if result.equal else 1)


COMMANDS = (diff,)

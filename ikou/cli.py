"""ikou command line. Every IkouError is caught here, once, and turned into its exit code.

Exit codes (docs/cli.md):
  0  done; every source record reconciled; rejects within the mapping's threshold
  1  done and landed, but over a threshold, or money (金額照合) does not reconcile; diff: differences
  2  bad input or configuration (mapping, encoding, missing column …), or the environment (a full
     disk, a read-only folder, no permission): nothing was written
  3  reconciliation failed or internal error: nothing was landed
  130 interrupted: the previous output is intact
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from pathlib import Path

import click

from ikou import __version__
from ikou.cli_help import localise_help
from ikou.cli_tools import COMMANDS
from ikou.errors import ExitCode, IkouError, as_user_error, is_interrupt, terminate_as_interrupt
from ikou.i18n import LANGUAGES, set_language, tr, use_for_click
from ikou.masking import mask_number_like
from ikou.progress import for_command

log = logging.getLogger("ikou")


class _Obj:
    debug = False
    quiet = False  # --quiet: no progress lines
    log_format = "text"  # --log-format json: progress and errors as JSON lines on standard error
    # what a test or the benchmark's ablation hands in as CliRunner.invoke(cli, …, obj={"fault": f,
    # "without": {...}}) or cli(obj=…): RunOptions.fault and RunOptions.without; no option sets them
    fault = None
    without: frozenset[str] = frozenset()


def _fail(exc: BaseException, debug: bool, as_json: bool = False) -> None:
    """The one place an error becomes a message and a documented exit code. With --debug the
    traceback is printed first; the exit code stays the same. ``as_json``: the message as one JSON
    object on standard error (--log-format json, or a command run with --json)."""
    if debug and not isinstance(exc, BrokenPipeError):
        click.echo("".join(traceback.format_exception(exc)), err=True)
    user = as_user_error(exc)
    if user is not None:
        click.echo(user.render_json() if as_json else user.render(), err=True)
        sys.exit(int(user.exit_code))
    if isinstance(exc, BrokenPipeError):
        # the reader went away (`ikou … | head`): what it wanted it has; no traceback, no error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
    if is_interrupt(exc):
        click.echo(tr("interrupted: OUT keeps its previous state (a landing interrupted after its commit is "
                      "finished by the next ikou command on the same OUT)"), err=True)
        sys.exit(int(ExitCode.INTERRUPTED))
    what = tr("internal error: {type}: {error}", type=type(exc).__name__, error=mask_number_like(str(exc)))
    todo = tr("nothing was landed; rerun with --debug for the traceback and report it")
    if as_json:
        click.echo(IkouError(what, hint=todo, exit_code=ExitCode.INTERNAL).render_json(), err=True)
    else:
        click.echo(f"{what}\n{todo}", err=True)
    sys.exit(int(ExitCode.INTERNAL))


def _set_lang(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """--lang (eager: before --help is shown): the language of this run and of its help texts."""
    if value is not None:
        set_language(value)
    localise_help(ctx.find_root().command)
    return value


class _Group(click.Group):
    def make_context(self, info_name, args, parent=None, **extra):
        use_for_click()  # the locale's language, before any --help is shown or usage error raised
        localise_help(self)
        return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, SystemExit):
            raise
        except BaseException as exc:  # noqa: BLE001 - the one place errors become exit codes
            as_json = (getattr(ctx.obj, "log_format", "text") == "json" or ctx.params.get("log_format") == "json"
                       or "--json" in self._command_args)
            _fail(exc, bool(ctx.params.get("debug")) or getattr(ctx.obj, "debug", False), as_json)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        self._command_args = list(args)  # the subcommand's too: an error of `… --json` is JSON
        return super().parse_args(ctx, args)

    _command_args: list[str] = []


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ikou")
@click.option("--lang", type=click.Choice(LANGUAGES), is_eager=True, expose_value=False, callback=_set_lang,
              help="Language of messages and help: ja (日本語) or en; default: the locale (LANG / LC_ALL ja… is "
                   "Japanese), or IKOU_LANG.")
@click.option("--debug", is_flag=True, help="Print errors with a traceback (same exit codes), and keep every "
              "stage's output under OUT/debug/<run_id>/ (personal data, unmasked).")
@click.option("-v", "--verbose", count=True, help="More log messages on standard error (-vv for all).")
@click.option("--allow-path", "allow_paths", multiple=True, type=click.Path(path_type=Path, file_okay=False),
              help="A folder a mapping or group file may name files in, besides its own project (the nearest "
                   "folder above it with .git or .ikou-root). Repeatable; also IKOU_ALLOW_PATH.")
@click.option("-q", "--quiet", is_flag=True, help="No progress lines on standard error (results and errors still).")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Progress and errors on standard error as text, or as one JSON object a line (for machine logs).")
@click.pass_context
def cli(ctx: click.Context, debug: bool, verbose: int, allow_paths: tuple[Path, ...], quiet: bool,
        log_format: str) -> None:
    """ikou (移行): migrate Japanese municipal core-system data from legacy vendor exports into the
    standard layout, with every record accounted for.

    Start with `ikou migrate --help`. Exit codes: 0 done, 1 over a threshold or money (金額照合)
    not reconciling (landed; for diff: differences found), 2 bad input or configuration (nothing
    written), 3 reconciliation failure or internal error (nothing landed), 130 interrupted.
    """
    given = ctx.obj if isinstance(ctx.obj, dict) else {}
    ctx.obj = _Obj()
    ctx.obj.debug = debug
    ctx.obj.quiet, ctx.obj.log_format = quiet, log_format
    ctx.obj.fault = given.get("fault")
    ctx.obj.without = frozenset(given.get("without", ()))
    if allow_paths:  # in the environment, so that a group's worker processes see the same
        from ikou.paths import ALLOW_ENV
        os.environ[ALLOW_ENV] = os.pathsep.join([*(str(p.resolve()) for p in allow_paths),
                                                 *filter(None, os.environ.get(ALLOW_ENV, "").split(os.pathsep))])
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="ikou: %(message)s", stream=sys.stderr)
    terminate_as_interrupt()


@cli.command()
@click.option("--mapping", "mapping", required=True, type=click.Path(path_type=Path),
              help="The municipality's mapping file (YAML), e.g. mappings/sakuragaoka_991015.yaml.")
@click.option("--input", "input_dir", required=True, type=click.Path(path_type=Path),
              help="Folder holding the legacy export; each source's 'files' glob is matched inside it.")
@click.option("--out", "out", type=click.Path(path_type=Path),
              help="Output folder: ikou.duckdb, parquet/, summary.json. Required unless --dry-run.")
@click.option("--dry-run", is_flag=True, help="Run every check and transformation but land nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON instead of text.")
@click.option("--chunk-mb", type=click.IntRange(1, 4096), default=16, show_default=True,
              help="Size of the chunks the export is streamed in (bounds memory).")
@click.option("--delta-from", metavar="RUN_ID|OUT_DIR",
              help="A delta run (差分移行): say by each table's row key what was inserted, changed and deleted "
                   "since this run (landed in --out), or since the latest run of this municipality in OUT_DIR; "
                   "the rows are in the run table delta, `ikou export --delta` writes them as hand-over files.")
@click.pass_obj
def migrate(obj: _Obj, mapping: Path, input_dir: Path, out: Path | None, dry_run: bool, as_json: bool,
            chunk_mb: int, delta_from: str | None) -> None:
    """Migrate one municipality's legacy export into the standard layout.

    Checks the mapping against the export first (every problem reported at once, nothing
    written), then extracts, maps codes, cleanses, validates, removes exact duplicates and lands
    the result in OUT/ikou.duckdb and OUT/parquet/, replacing this municipality's previous
    partition. Every source record ends landed, rejected (with reason and raw record), merged
    (with lineage) or excluded by one of the mapping's scope rules (with the rule and raw record);
    the run checks this and writes OUT/summary.json.
    """
    from ikou.pipeline.run import migrate as run_migrate
    from ikou.pipeline.state import RunOptions

    if out is None and not dry_run:
        raise IkouError(tr("--out is required (or use --dry-run to land nothing)"))
    opts = RunOptions(mapping=mapping, input_dir=input_dir, out=out, dry_run=dry_run, debug=obj.debug,
                      chunk_bytes=chunk_mb * 1024 * 1024, fault=obj.fault, without=obj.without,
                      delta_from=delta_from)
    summary = run_migrate(opts, for_command())
    click.echo(summary.to_json() if as_json else summary.render_text(), nl=False)
    if not as_json and not summary.dry_run:
        click.echo(tr("landed in {out}/ikou.duckdb and {out}/parquet/; summary in {out}/summary.json", out=out))
    sys.exit(int(summary.exit_code))


def _rule_limit(ctx, param, values: tuple[str, ...]) -> tuple[tuple[str, int], ...]:
    out = []
    for v in values:
        code, _, n = v.partition("=")
        if not code or not n.isdigit():
            raise click.BadParameter(tr("{value!r}: write CODE=N, e.g. check_digit=0", value=v))
        out.append((code, int(n)))
    return tuple(out)


@cli.command()
@click.option("--mapping", "mapping", required=True, type=click.Path(path_type=Path),
              help="The municipality's mapping file (YAML).")
@click.option("--input", "input_dir", required=True, type=click.Path(path_type=Path),
              help="Folder holding the export, or a small sample of it checked into the mapping's repository.")
@click.option("--dry-run", is_flag=True, default=True, help="Always on: validate never lands anything "
              "(accepted so that CI scripts can say so).")
@click.option("--junit", type=click.Path(path_type=Path), help="Write a JUnit XML file: one test case per "
              "check, threshold and rule, for the CI system to show.")
@click.option("--summary-json", type=click.Path(path_type=Path), help="Write the run summary as JSON to this file.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON instead of text.")
@click.option("--max-reject-rate", type=click.FloatRange(0, 1), help="Override thresholds.max_reject_rate.")
@click.option("--max-rejects", type=click.IntRange(0), help="Override thresholds.max_rejects.")
@click.option("--max-alert-rate", type=click.FloatRange(0, 1), help="Override thresholds.max_alert_rate.")
@click.option("--max-alerts", type=click.IntRange(0), help="Override thresholds.max_alerts.")
@click.option("--max-rule", "rule_limits", multiple=True, metavar="CODE=N", callback=_rule_limit,
              help="At most N records for a reject reason or alert code (repeatable), e.g. --max-rule check_digit=0.")
@click.pass_obj
def validate(obj: _Obj, mapping: Path, input_dir: Path, dry_run: bool, junit: Path | None, summary_json: Path | None,
             as_json: bool, max_reject_rate: float | None, max_rejects: int | None, max_alert_rate: float | None,
             max_alerts: int | None, rule_limits: tuple[tuple[str, int], ...]) -> None:
    """Check a mapping against an export without landing anything, for CI: extraction, code
    mapping, cleansing and validation run as in `ikou migrate --dry-run`, then the thresholds
    (the mapping's, overridden by the options) decide the exit code: 0 within them, 1 over,
    2 bad mapping or export (every problem listed), 3 reconciliation failure. docs/ci.md has a CI
    example for a mapping repository."""
    import dataclasses
    import time

    from ikou.pipeline.run import migrate as run_migrate
    from ikou.pipeline.state import RunOptions
    from ikou.validators.junit import junit_xml

    t = time.perf_counter()
    opts = RunOptions(mapping=mapping, input_dir=input_dir, out=None, dry_run=True, debug=obj.debug)
    name = f"ikou validate {mapping}"
    try:
        summary = run_migrate(opts, for_command())
    except IkouError as exc:
        if junit is not None:
            junit.parent.mkdir(parents=True, exist_ok=True)
            junit.write_bytes(junit_xml(name, error=exc, seconds=time.perf_counter() - t))
        raise
    th = summary.thresholds
    overrides = {k: v for k, v in (("max_reject_rate", max_reject_rate), ("max_rejects", max_rejects),
                                   ("max_alert_rate", max_alert_rate), ("max_alerts", max_alerts)) if v is not None}
    rules = tuple(sorted((dict(th.rules) | dict(rule_limits)).items()))
    summary = dataclasses.replace(summary, thresholds=dataclasses.replace(th, **overrides, rules=rules))
    if junit is not None:
        junit.parent.mkdir(parents=True, exist_ok=True)
        junit.write_bytes(junit_xml(f"{name}: {summary.municipality_name} ({summary.municipality_code})", summary,
                                    seconds=time.perf_counter() - t))
    if summary_json is not None:
        summary_json.parent.mkdir(parents=True, exist_ok=True)
        summary_json.write_text(summary.to_json(), encoding="utf-8")
    click.echo(summary.to_json() if as_json else summary.render_text(), nl=False)
    sys.exit(int(summary.exit_code))


@cli.command("migrate-group")
@click.argument("group_file", type=click.Path(path_type=Path))
@click.option("--out", "out", type=click.Path(path_type=Path), help="One output folder for the whole group "
              "(partitioned by municipality). Required unless --dry-run.")
@click.option("--dry-run", is_flag=True, help="Run every member's checks and transformations, land nothing.")
@click.option("--jobs", type=click.IntRange(1, 64), help="Members run at once (default: cores, fewer if memory "
              "is short, about 2 GB per member of a million records).")
@click.option("--member", "members", multiple=True, metavar="CODE", help="Run only these members (repeatable).")
@click.option("--input-root", type=click.Path(path_type=Path),
              help="Folder the members' input folders are relative to (default: the group file's folder).")
@click.option("--json", "as_json", is_flag=True, help="Print the group summary as JSON.")
@click.option("--scheduler", metavar="ADDRESS", help="Run the members on the Dask distributed cluster at this "
              "scheduler address (tcp://host:8786) instead of local processes; the workers must see OUT, the "
              "inputs and the mappings at the same paths (docs/group.md).")
@click.pass_obj
def migrate_group(obj: _Obj, group_file: Path, out: Path | None, dry_run: bool, jobs: int | None,
                  members: tuple[str, ...], input_root: Path | None, as_json: bool, scheduler: str | None) -> None:
    """Migrate a 自治体クラウド group: every member municipality from its own legacy export, with the
    group's code tables (and each member's overrides), in parallel processes, into one OUT. Each
    member's mappings run in order (resident before tax). A failing member fails alone: the others
    land, and its previous data stays. Writes OUT/group_summary.json; exit code = the highest of
    the members' (0 all done, 1 over a threshold or money mismatch, 2 bad input, 3 reconciliation).
    docs/group.md."""
    import json

    from ikou.group import load_group, render_group_text, run_group

    if out is None and not dry_run:
        raise IkouError(tr("--out is required (or use --dry-run to land nothing)"))
    group = load_group(group_file, input_root)
    unknown = sorted(set(members) - {m.code for m in group.members})
    if unknown:
        raise IkouError(tr("--member {values}: not a member of group {id}", values=', '.join(unknown), id=group.id))
    progress = for_command()
    try:
        summary = run_group(group, out, jobs=jobs, dry_run=dry_run, only=members, fault=obj.fault, progress=progress,
                            scheduler=scheduler)
    except BaseException:
        progress.finish(ok=False)
        raise
    progress.finish()
    click.echo(json.dumps(summary, ensure_ascii=False, indent=2) if as_json else render_group_text(summary), nl=False)
    sys.exit(int(summary["exit_code"]))


@cli.group()
def review() -> None:
    """Work with the review queue of probable duplicates (docs/dedup.md)."""


@review.command("collect")
@click.option("--mapping", "mapping", required=True, type=click.Path(path_type=Path),
              help="The municipality's mapping; its dedup.decisions names the decisions file.")
@click.argument("queue", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def review_collect(mapping: Path, queue: Path) -> None:
    """Copy the decided rows of QUEUE (OUT/review/<code>/review_queue_<table>.csv, with its
    判定（同一/別人） (decision) column filled in: same / different, or 同一 / 別人) into the
    mapping's decisions file, which the next `ikou migrate` reads. Undecided rows are left for
    later. The pairs side by side, differences marked: review_queue_<table>.html beside it."""
    from ikou.cleansing.review_decisions import collect_decisions
    from ikou.mapping import load_mapping

    m = load_mapping(mapping)
    if m.dedup.decisions is None:
        raise IkouError(tr("mapping {mapping} names no decisions file", mapping=mapping),
                        hint=tr("add dedup.decisions (a CSV path relative to the mapping) and rerun"))
    read, total = collect_decisions(queue, m.dedup.decisions)
    click.echo(tr("{read} decision(s) collected into {decisions} ({total} in all); the next ikou migrate "
                  "applies them",
                  read=read, decisions=m.dedup.decisions, total=total))


REPORT_DEFAULTS = {"html": "report/report.html", "xlsx": "report/report.xlsx", "csv": "report/tables"}


@cli.command()
@click.argument("outs", metavar="OUT [OUT …]", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json", "html", "xlsx", "csv"]), default="text",
              show_default=True, help="text and json print to standard output; html writes one self-contained page; "
              "xlsx one workbook with a sheet per table; csv one UTF-8 (BOM) file per table.")
@click.option("--output", type=click.Path(path_type=Path),
              help="Where html/xlsx/csv go (default OUT/report/report.html, OUT/report/report.xlsx, "
                   "OUT/report/tables/).")
@click.option("--municipality", help="Only this municipality code (default: every municipality in OUT).")
@click.option("--compare", nargs=2, metavar="RUN_A RUN_B",
              help="Compare two runs of one municipality and 業務 (rehearsals): every count side by side "
                   "(text or json). A unique prefix of a run id is enough.")
@click.option("--changed-only", is_flag=True, help="With --compare: only the counts that differ.")
def report(outs: tuple[Path, ...], fmt: str, output: Path | None, municipality: str | None,
           compare: tuple[str, str] | None, changed_only: bool) -> None:
    """Reconciliation report for vendors (照合レポート) over OUT: per municipality and file the
    record flow (source = landed + rejected + merged + excluded), reject reasons, alerts, code-table
    coverage with unmapped codes, 外字, normalisations, hash totals over key items and sums of
    money items. 個人番号 is masked everywhere. Every fate is counted again from what OUT holds
    (not taken from the runs' own summaries). Exit code 0 when every municipality reconciles,
    1 when money (金額照合) does not, 3 when counts do not, 2 when OUT holds no run. With
    --compare RUN_A RUN_B: two rehearsals side by side (exit 0). Several OUTs (one per group
    member, or per machine) make one report; html/xlsx/csv then go to the first OUT's report
    folder unless --output says where. Keys and tables: docs/report.md."""
    from ikou.reconciliation.several import build_reports

    out = outs[0]
    if compare:
        if len(outs) > 1:
            raise IkouError(tr("--compare reads one OUT"), hint=tr("give the OUT that holds both runs"))
        from ikou.reconciliation.compare import compare_runs, render_comparison
        if fmt not in ("text", "json"):
            raise IkouError(tr("--compare prints text or json, not {fmt}", fmt=fmt), hint=tr("use --format text or --format json"))
        c = compare_runs(out, *compare)
        click.echo(c.to_json() if fmt == "json" else render_comparison(c, changed_only), nl=False)
        sys.exit(int(c.exit_code))
    progress = for_command()
    progress.phase("report: count again from OUT")
    try:
        rep = build_reports(list(outs), municipality)
        progress.phase("report: write {fmt}", fmt=fmt)
        text = _write_report(rep, fmt, list(outs), output)
    except BaseException:
        progress.finish(ok=False)
        raise
    progress.finish()  # before the report itself: a terminal's progress line is done with
    if text is not None:
        click.echo(text, nl=False)
    else:
        click.echo(tr("report written to {value} ({value2})",
                      value=output or out / REPORT_DEFAULTS[fmt],
                      value2='reconciled' if rep.reconciled else 'NOT RECONCILED'))
    sys.exit(int(rep.exit_code))


def _write_report(rep, fmt: str, outs: list[Path], output: Path | None) -> str | None:
    """The report as text to print (text, json), or written to its file (html, xlsx, csv: None)."""
    from ikou.reconciliation.render import render_html, render_text
    from ikou.reconciliation.tables import detail_tables, write_csv
    from ikou.reconciliation.workbook import write_xlsx

    if fmt == "json":
        return rep.to_json()
    if fmt == "text":
        return render_text(rep)
    dest = output or outs[0] / REPORT_DEFAULTS[fmt]
    if fmt == "html":
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(render_html(rep), encoding="utf-8")
    elif fmt == "xlsx":
        for note in write_xlsx(rep, detail_tables(outs, rep), dest):
            click.echo(tr("note: {note}", note=note), err=True)
    else:
        write_csv(detail_tables(outs, rep), dest)
    return None


for _command in COMMANDS:  # layouts, reasons, mapping, gx, fixtures, diff, hand-over, group, demo, init (cli_tools.py)
    cli.add_command(_command)


def main() -> None:
    """The command without the allocator set-up: the `ikou` command starts in ikou/launch.py."""
    cli(prog_name="ikou")


"""The hand-over commands, added to the ``ikou`` group by cli.py: ``ikou export`` writes the files
the receiving system loads (docs/handover.md), ``ikou verify-handover`` checks a received folder
against its manifest, ``ikou signoff`` records who accepted which run. Errors reach cli.py's one
handler like any command's."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ikou.i18n import tr


@click.command("export")
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--to", "to", required=True, type=click.Path(path_type=Path),
              help="Folder to write the hand-over into (created; an earlier hand-over there is replaced whole).")
@click.option("--encoding", type=click.Choice(["utf-8", "utf-8-sig", "cp932"]), default="utf-8", show_default=True,
              help="CSV encoding (utf-8-sig: UTF-8 with a BOM, for Excel).")
@click.option("--unmappable", type=click.Choice(["stop", "degenerate"]), default="stop", show_default=True,
              help="A character the encoding cannot hold: stop (name every one, write nothing), or write its 縮退 "
                   "form (variation selector dropped, variant folded) and list each in the manifest.")
@click.option("--record-layout", "record_layouts", multiple=True, type=click.Path(path_type=Path, dir_okay=False),
              help="Write this table fixed-width, as the record layout file says (byte offsets per item); repeatable.")
@click.option("--municipality", help="Only this municipality code (default: every municipality in OUT).")
@click.option("--delta", is_flag=True, help="Write a delta run's changes (差分) instead of whole tables: per table "
              "_delta_delete (keys), _delta_update and _delta_insert (whole records) files. The latest runs must be "
              "delta runs (ikou migrate … --delta-from RUN).")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON.")
def export(out: Path, to: Path, encoding: str, unmappable: str, record_layouts: tuple[Path, ...],
           municipality: str | None, delta: bool, as_json: bool) -> None:
    """Write the hand-over files (投入データ) of OUT's latest runs: per municipality and table, the
    standard layout as CSV with the standard Japanese item names as header (or fixed-width), with
    manifest.json (sha256, records, hash totals, money sums), the layouts and a re-import mapping.
    With --delta, a delta run's inserted, changed and deleted rows instead."""
    import hashlib

    from ikou.handover.export import ExportOptions, export_handover
    from ikou.handover.manifest import MANIFEST

    manifest = export_handover(out, to, ExportOptions(encoding=encoding, unmappable=unmappable,
                                                      record_layouts=record_layouts, municipality=municipality,
                                                      delta=delta))
    if as_json:
        sys.stdout.write(manifest.to_json())
        return
    digest = hashlib.sha256((to / MANIFEST).read_bytes()).hexdigest()
    click.echo(tr("wrote {count} file(s) to {to}", count=len(manifest.files), to=to))
    for f in manifest.files:
        click.echo(tr("{path}  {records:,} records  {bytes:,} bytes  {encoding}",
                      path=f.path, records=f.records, bytes=f.bytes, encoding=f.encoding))
    if manifest.degenerated:
        click.echo(tr("{count} character(s) written as their 縮退 form (listed in {MANIFEST})",
                      count=len(manifest.degenerated), MANIFEST=MANIFEST))
    click.echo(tr("{MANIFEST} sha256 {digest}  (send it apart from the folder; the receiver checks with `ikou "
                  "verify-handover {name}`)",
                  MANIFEST=MANIFEST, digest=digest, name=to.name))


@click.command("verify-handover")
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def verify_handover(ctx: click.Context, folder: Path, as_json: bool) -> None:
    """Check a received hand-over folder against its manifest.json: every file present, its bytes,
    sha256, records, columns, hash totals and money sums. Exit 0 when all is as listed, 1 naming
    each difference, 2 when the folder holds no readable manifest."""
    from ikou.handover.verify import verify_handover as check

    report = check(folder)
    sys.stdout.write(report.to_json() if as_json else report.render_text())
    ctx.exit(int(report.exit_code))


@click.command("signoff")
@click.argument("out", type=click.Path(path_type=Path, file_okay=False))
@click.option("--run", "run_id", required=True, help="The run accepted (a latest run: `ikou report OUT` names them).")
@click.option("--role", required=True, type=click.Choice(["vendor", "municipality"]), help="Who accepts.")
@click.option("--by", "by", required=True, help="The person or team accepting, e.g. \"桜ヶ丘市 市民課 山田\".")
@click.option("--report", "report", type=click.Path(path_type=Path, dir_okay=False),
              help="The report file the signer saw (its sha256 is kept; default: the JSON report as ikou renders it).")
def signoff(out: Path, run_id: str, role: str, by: str, report: Path | None) -> None:
    """Record who accepted which run (検証責任) in OUT/signoffs.json. `ikou report` lists every
    sign-off; one whose run was replaced, or whose landed data changed since, shows as void."""
    from ikou.signoff import sign

    s = sign(out, run_id, role, by, report)
    click.echo(tr("signed: run {run_id} ({municipality_code} {layout}) by {by} as {role} at {signed_at}; report "
                  "sha256 {value}…",
                  run_id=s.run_id, municipality_code=s.municipality_code, layout=s.layout, by=s.by, role=s.role,
                  signed_at=s.signed_at, value=s.report_sha256[:16]))


COMMANDS = (export, verify_handover, signoff)

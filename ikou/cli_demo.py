"""``ikou demo``: what ``make demo`` does, without make (a Windows PC has none): generate the
fictional 自治体クラウド group and a mainframe municipality, migrate them, write the reports. Each
step is the ikou command a user would type, run in this process and shown as it runs."""

from __future__ import annotations

from pathlib import Path

import click

from ikou.errors import ExitCode, IkouError
from ikou.i18n import tr
from ikou.paths import examples_dir

MAPPINGS = examples_dir()  # the wheel's ikou/examples, or a source checkout's mappings/


def demo_steps(out: Path, mappings: Path) -> list[list[str]]:
    """The demo's commands (as ``make demo`` runs them), into OUT/demo-input and OUT/demo."""
    inputs, landed = out / "demo-input", out / "demo"
    return [
        ["fixtures", "generate-group", "--out", str(inputs), "--hard-duplicates", "0.03"],
        ["fixtures", "generate", "--vendor", "yamabiko", "--out", str(inputs / "yamabiko")],
        ["migrate-group", str(mappings / "sakura_cloud" / "group.yaml"), "--input-root", str(inputs),
         "--out", str(landed)],
        ["migrate", "--mapping", str(mappings / "yamabiko_991040.yaml"), "--input", str(inputs / "yamabiko"),
         "--out", str(landed)],
        ["report", str(landed), "--format", "html"],
        ["report", str(landed)],
    ]


@click.command("demo")
@click.option("--out", "out", type=click.Path(path_type=Path, file_okay=False), default=Path("out"),
              show_default=True, help="Folder for the generated exports (demo-input/) and the migrated OUT (demo/).")
@click.option("--mappings", type=click.Path(path_type=Path, file_okay=False), default=MAPPINGS, show_default=True,
              help="The example mappings folder (sakura_cloud/group.yaml, yamabiko_991040.yaml).")
@click.pass_context
def demo(ctx: click.Context, out: Path, mappings: Path) -> None:
    """Run the demo as `make demo` does, on any system: generate the fictional group (three
    municipalities, three vendors, resident and 個人住民税 exports) and a mainframe municipality,
    migrate them into OUT/demo, write OUT/demo/report/report.html and print the reconciliation report."""
    if not (mappings / "sakura_cloud" / "group.yaml").is_file():
        raise IkouError(tr("{mappings} holds no example mappings (sakura_cloud/group.yaml)", mappings=mappings),
                        hint=tr("reinstall ikou (its wheel carries the examples), or give --mappings <checkout>/mappings"))
    root = ctx.find_root().command
    for args in demo_steps(out, mappings):
        click.echo(tr("$ ikou {values}", values=' '.join(args)), err=True)
        try:
            root.main(args, prog_name="ikou", standalone_mode=False, obj=ctx.obj)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if code not in (ExitCode.OK, ExitCode.OVER_THRESHOLD):  # exit 1 is a finding the demo shows
            raise IkouError(tr("the demo step `ikou {values}` ended with exit code {code}",
                               values=' '.join(args), code=code),
                            exit_code=ExitCode(code) if code in iter(ExitCode) else ExitCode.INTERNAL)


COMMANDS = (demo,)

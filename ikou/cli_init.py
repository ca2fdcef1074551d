"""``ikou init``: scaffold a mapping repository (ikou/scaffold)."""

from __future__ import annotations

from pathlib import Path

import click

from ikou.i18n import tr


@click.command("init")
@click.argument("target", type=click.Path(path_type=Path, file_okay=False))
@click.option("--member", "members", multiple=True, metavar="CODE:NAME",
              help="A municipality of the repository, e.g. 372013:高松市 (repeatable; default: the fictional "
                   "991015:桜ヶ丘市).")
@click.option("--group", "group_id", metavar="ID", help="Scaffold a 自治体クラウド group with this id: adds "
              "mappings/group.yaml over the members, for ikou migrate-group.")
@click.option("--group-name", metavar="NAME", help="The group's name (default: its id).")
@click.option("--no-samples", is_flag=True, help="Do not generate the fictional sample exports under samples/.")
def init(target: Path, members: tuple[str, ...], group_id: str | None, group_name: str | None,
         no_samples: bool) -> None:
    """Scaffold a mapping repository in TARGET (a new folder): a resident mapping per municipality
    (ikou's example, with the code and name put in), a 外字 table, a small fictional sample export
    per municipality, CI files running `ikou validate` (GitHub Actions, GitLab) and a Japanese
    README saying what to replace. `ikou validate` passes on it as written."""
    from ikou.scaffold import Group, Member, parse_member, write

    chosen = [parse_member(m) for m in members] or [Member("991015", "桜ヶ丘市")]
    group = Group(group_id, group_name or group_id) if group_id else None
    written = write(target, chosen, group, samples=not no_samples)
    click.echo(tr("wrote {count} files into {path}; next: read {readme}",
                  count=len(written), path=target, readme=target / "README.md"))


COMMANDS = (init,)

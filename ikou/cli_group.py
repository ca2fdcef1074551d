"""``ikou group …``: commands about a 自治体クラウド group beyond running it (``migrate-group``):
``apportion`` splits the group's shared cost among its members (docs/group.md). Errors reach
cli.py's one handler like any command's."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.group("group")
def group() -> None:
    """A 自治体クラウド group's shared affairs (費用按分)."""


@group.command("apportion")
@click.argument("group_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--cost", required=True, help="The shared cost in yen, e.g. 12,000,000.")
@click.option("--method", required=True, type=click.Choice(["equal-population", "functional", "records",
                                                            "equal-reduction"]),
              help="equal-population: 均等割 + 人口割; functional: 機能別負担 (weights per 業務); records: 処理件数比例; "
                   "equal-reduction: every member saves the same share of its stand-alone cost.")
@click.option("--out", "out", type=click.Path(path_type=Path, file_okay=False),
              help="The group's OUT: population (equal-population) and records (records) are read from it.")
@click.option("--fixed-share", type=click.FloatRange(0, 1),
              help="equal-population: the share split equally (default: the group file's apportionment.fixed_share).")
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON.")
def apportion(group_file: Path, cost: str, method: str, out: Path | None, fixed_share: float | None,
              as_json: bool) -> None:
    """Split the group's shared cost among its members to the yen (費用按分): shares sum to the cost
    exactly, leftover yen to the largest remainders. With --out, the table is also written to
    OUT/apportionment.json, where `ikou report OUT` shows it."""
    from ikou.apportion import apportion as split
    from ikou.apportion import parse_yen
    from ikou.group import load_group

    result = split(load_group(group_file), parse_yen(cost), method, out, fixed_share)
    if out is not None:
        (out / "apportionment.json").write_text(result.to_json(), encoding="utf-8")
    sys.stdout.write(result.to_json() if as_json else result.render_text())


COMMANDS = (group,)

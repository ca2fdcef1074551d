"""The commands about ikou itself and its fixtures, added to the ``ikou`` group by cli.py: the
bundled layouts, the reason codes, the JSON Schemas of the files, the great-expectations export
and the fictional municipalities' exports. Errors reach cli.py's one handler like any command's."""

from __future__ import annotations

from pathlib import Path

import click

from ikou.errors import IkouError
from ikou.i18n import tr


@click.group()
def layouts() -> None:
    """Standard layouts bundled with ikou (ikou/schemas/*.yaml)."""


@layouts.command("list")
def layouts_list() -> None:
    """List the bundled layouts."""
    from ikou.layout import available_layouts, load_layout

    for name in available_layouts():
        layout = load_layout(name)
        tables = ", ".join(f"{t.id} ({len(t.items)} items)" for t in layout.tables.values())
        click.echo(tr("{name}\t{name_ja}\tv{version}\t{tables}",
                      name=name, name_ja=layout.name_ja, version=layout.version, tables=tables))


@layouts.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the layout as JSON.")
def layouts_show(name: str, as_json: bool) -> None:
    """Print a layout: every item with its Japanese name, type, length, code table and level."""
    from ikou.layout import load_layout
    from ikou.layout_render import layout_json, layout_text

    layout = load_layout(name)
    click.echo(layout_json(layout) if as_json else layout_text(layout), nl=False)


@layouts.command("schema")
def layouts_schema() -> None:
    """Print the JSON Schema of a layout file (for editors that complete and check YAML)."""
    from ikou.config import json_schema

    click.echo(json_schema("layout"), nl=False)


@click.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True,
              help="text: one line per code; json: the catalogue; markdown: docs/reasons.md.")
def reasons(fmt: str) -> None:
    """List the reason and alert codes (理由コード) a run can report, most specific first, with
    their kind (reject, alert, merged, or either by level) and messages in English and Japanese."""
    import json

    from ikou.reasons import catalog, render_markdown

    if fmt == "markdown":
        click.echo(render_markdown(), nl=False)
    elif fmt == "json":
        click.echo(json.dumps([r.model_dump() for r in catalog().values()], ensure_ascii=False, indent=1))
    else:
        width = max(map(len, catalog()))
        for r in catalog().values():
            click.echo(f"{r.code:<{width}}  {r.kind:<6}  {r.en}\n{'':<{width}}  {'':<6}  {r.ja}")


@click.group("mapping")
def mapping_group() -> None:
    """Mapping files (docs/mapping.md)."""


@mapping_group.command("schema")
@click.option("--kind", type=click.Choice(["mapping", "layout", "group"]), default="mapping", show_default=True,
              help="Which file's schema: a mapping, a layout or a group file.")
def mapping_schema(kind: str) -> None:
    """Print the JSON Schema of a mapping file. Editors use it to complete keys and flag mistakes:
    in VS Code (YAML extension) put `# yaml-language-server: $schema=PATH` on the mapping's first
    line, PATH being this output saved to a file (the repository keeps it as
    docs/schema/mapping.schema.json)."""
    from ikou.config import json_schema

    click.echo(json_schema(kind), nl=False)


@click.group()
def gx() -> None:
    """great-expectations export for vendors whose QA runs on it (needs `pip install 'ikou[gx]'`)."""


@gx.command("suite")
@click.argument("layout")
@click.option("--table", help="The layout's table (default: every table, one suite each).")
@click.option("--out", "out", type=click.Path(path_type=Path), help="Write the suite JSON here (default: standard output).")
def gx_suite(layout: str, table: str | None, out: Path | None) -> None:
    """Export a layout as a great-expectations expectation suite (JSON): required items, lengths,
    patterns, code tables and keys as GX expectations, an item's level as their severity."""
    import json

    from ikou.gx_export import layout_suite_json
    from ikou.layout import load_layout

    lay = load_layout(layout)
    if table is not None and table not in lay.tables:
        raise IkouError(tr("layout {id} has no table {table!r}", id=lay.id, table=table), hint=tr("one of {values}",
                                                                           values=', '.join(lay.tables)))
    suites = [layout_suite_json(lay, t) for t in lay.tables.values() if table in (None, t.id)]
    text = json.dumps(suites[0] if len(suites) == 1 else suites, ensure_ascii=False, indent=2) + "\n"
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(tr("suite written to {out}", out=out))


@gx.command("docs")
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--dest", type=click.Path(path_type=Path), help="GX project folder (default OUT/gx).")
@click.option("--municipality", help="Only this municipality code.")
def gx_docs(out: Path, dest: Path | None, municipality: str | None) -> None:
    """Export the runs in OUT as great-expectations validation results of the layout suites, in a
    GX project folder, and build its Data Docs (HTML)."""
    from ikou.gx_export import build_docs

    index = build_docs(out, dest or out / "gx", municipality)
    click.echo(tr("Data Docs: {index}", index=index))


@click.group()
def fixtures() -> None:
    """Generate the bundled fictional municipality's legacy export (for demos, tests, benchmarks)."""


VENDORS = {
    "sakura": "桜ヶ丘市 (991015), サクラ情報システム: CP932 CSV (mappings/sakuragaoka_991015.yaml)",
    "midori": "みどり町 (991023), ミドリ電算: fixed-width CP932, packed decimals, GYYMMDD, header/trailer "
              "(mappings/midori_991023.yaml)",
    "wakaba": "若葉村 (991031), わかば情報: UTF-8 XML with a namespace, 和暦 text dates (mappings/wakaba_991031.yaml)",
    "yamabiko": "やまびこ市 (991040), ヤマビコ計算センター: JEF/EBCDIK mainframe records without line ends, "
                "外字 in the user area (mappings/yamabiko_991040.yaml)",
}


@fixtures.command("generate-group")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help="Folder to write into.")
@click.option("--scale", type=click.FloatRange(0.2, 1000), default=1.0, show_default=True,
              help="Residents per member × this (1.0: 5,000 + 3,000 + 2,000).")
@click.option("--no-defects", is_flag=True, help="Do not plant defects.")
@click.option("--hard-duplicates", type=click.FloatRange(0, 0.5), default=0.0, show_default=True,
              help="Share of 桜ヶ丘市's resident records registered a second time under variants.")
@click.option("--size-distribution", type=click.Choice(["demo", "real"]), default="demo", show_default=True,
              help="demo: the three fictional members; real: a simulated prefecture, the first --members "
                   "municipalities of --prefecture sized by their postal codes (総務省's list x KEN_ALL), with "
                   "their mappings and group file in OUT/mappings.")
@click.option("--members", type=click.IntRange(1, 200), default=40, show_default=True,
              help="With --size-distribution real: how many municipalities.")
@click.option("--prefecture", default="20", show_default=True, metavar="CODE",
              help="With --size-distribution real: the prefecture code (20 長野県, 01 北海道 …).")
@click.option("--residents", type=click.IntRange(1000), default=80_000, show_default=True,
              help="With --size-distribution real: residents in the whole group (each member at least 1,000).")
def fixtures_generate_group(out: Path, scale: float, no_defects: bool, hard_duplicates: float,
                            size_distribution: str, members: int, prefecture: str, residents: int) -> None:
    """Write the fictional 自治体クラウド group's exports: 桜ヶ丘市 (CSV), みどり町 (fixed-width) and
    若葉村 (XML), each with a resident and a 個人住民税 export and their ground truth, in
    OUT/sakura, OUT/midori, OUT/wakaba. Migrate them with
    `ikou migrate-group mappings/sakura_cloud/group.yaml --input-root OUT --out …`. With
    --size-distribution real: a simulated prefecture-wide group instead, migrated with
    `ikou migrate-group OUT/mappings/group.yaml --input-root OUT/exports --out …`."""
    from ikou.fixtures.group import generate_group

    if size_distribution == "real":
        from ikou.fixtures.prefecture import generate_prefecture, municipalities

        inside = [m for m in municipalities() if m.code[:2] == prefecture]
        if not inside:
            raise IkouError(tr("--prefecture {value}: no such prefecture code (01 北海道 … 47 沖縄県)", value=prefecture))
        if members > len(inside):
            raise IkouError(tr("--members {members}: {prefecture} has {count} municipalities",
                               members=members, prefecture=inside[0].prefecture, count=len(inside)),
                            hint=tr("choose fewer members or another --prefecture (20 長野県 has 77, 01 北海道 179)"))

        for m, n, style in generate_prefecture(out, members, prefecture, residents, defects=not no_defects):
            click.echo(tr("{code} {name}: {residents} residents ({style})", code=m.code, name=m.city,
                          residents=n, style=style))
        click.echo(tr("group file: {path}", path=out / "mappings" / "group.yaml"))
        return
    for folder, (resident, tax) in generate_group(out, scale, defects=not no_defects,
                                                  hard_duplicates=hard_duplicates).items():
        click.echo(tr("{folder}: {name} ({records} records), {name2} ({records2} records)",
                      folder=folder, name=resident.path.name, records=resident.records, name2=tax.path.name,
                      records2=tax.records))


@fixtures.command("generate")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help="Folder to write into.")
@click.option("--vendor", type=click.Choice(sorted(VENDORS)), default="sakura", show_default=True,
              help="Which fictional municipality and vendor format: " + "; ".join(f"{k}: {v}" for k, v in VENDORS.items()))
@click.option("--residents", type=click.IntRange(1000), default=None,
              help="Number of residents (default 5,000 sakura, 3,000 midori, 2,000 wakaba, 1,500 yamabiko; "
              "1,000,000+ for benchmarks).")
@click.option("--seed", type=int, default=None, help="Random seed: same seed, same bytes.")
@click.option("--no-defects", is_flag=True, help="Do not plant defects (a clean export).")
@click.option("--hard-duplicates", type=click.FloatRange(0, 0.5), default=0.0, show_default=True,
              help="Share of records registered a second time under variants (異体字, kana width, moved "
                   "address, 番地 written another way or mistyped, reading typo, swapped day/month, no phone), for "
                   "measuring duplicate detection.")
@click.option("--months-later", type=click.IntRange(0, 12), default=0, show_default=True,
              help="sakura only: the same export this many months later (moves, births, deaths, corrections, "
                   "purged 消除者), with expected_delta.csv: what `ikou migrate --delta-from` must find.")
def fixtures_generate(out: Path, vendor: str, residents: int | None, seed: int | None, no_defects: bool,
                      hard_duplicates: float, months_later: int) -> None:
    """Write a fictional municipality's legacy export and expected.csv, the planted defects'
    expected fates (place = line or record number). Migrate it with the vendor's mapping."""
    from ikou.fixtures.ageing import generate_later
    from ikou.fixtures.generator import SLICE_RESIDENTS, generate
    from ikou.fixtures.vendors import generate_fixed, generate_jef, generate_xml

    if hard_duplicates and (residents or 0) > SLICE_RESIDENTS:
        raise IkouError(tr("--hard-duplicates: planted in exports of at most {n} residents (larger ones are "
                           "written in slices)", n=f"{SLICE_RESIDENTS:,}"), hint=tr("fewer --residents"))
    if months_later and vendor != "sakura":
        raise IkouError(tr("--months-later: only the sakura export can be aged so far"), hint=tr("--vendor sakura"))
    if vendor == "yamabiko":
        export = generate_jef(out, residents=residents or 1500, seed=13 if seed is None else seed,
                              defects=not no_defects, hard_duplicates=hard_duplicates)
    elif vendor == "wakaba":
        export = generate_xml(out, residents=residents or 2000, seed=11 if seed is None else seed,
                              defects=not no_defects, hard_duplicates=hard_duplicates)
    elif vendor == "midori":
        export = generate_fixed(out, residents=residents or 3000, seed=7 if seed is None else seed,
                                defects=not no_defects, hard_duplicates=hard_duplicates)
    elif months_later:
        export = generate_later(out, months_later, residents=residents or 5000, seed=20261126 if seed is None else seed,
                                defects=not no_defects, hard_duplicates=hard_duplicates)
    else:
        export = generate(out, residents=residents or 5000, seed=20261126 if seed is None else seed,
                          defects=not no_defects, hard_duplicates=hard_duplicates)
    click.echo(f"wrote {export.path} ({export.records} records) and {export.expected}"
               + (f"; {export.path.parent / 'expected_delta.csv'}" if months_later else ""))


def _all_commands() -> tuple:
    from ikou.cli_demo import COMMANDS as DEMO
    from ikou.cli_diff import COMMANDS as DIFF
    from ikou.cli_group import COMMANDS as GROUP
    from ikou.cli_handover import COMMANDS as HANDOVER
    from ikou.cli_init import COMMANDS as INIT
    from ikou.cli_inspect import COMMANDS as INSPECT
    return (layouts, reasons, mapping_group, gx, fixtures, *DIFF, *HANDOVER, *GROUP, *DEMO, *INIT, *INSPECT)


COMMANDS = _all_commands()

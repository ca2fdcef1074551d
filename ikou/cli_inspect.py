"""``ikou inspect`` (a first look at an unknown export, ikou/inspect.py) and ``ikou copybook``
(a COBOL copybook read into the fixed-width part of a mapping's sources: ikou/copybook.py
parses, ikou/copybook_yaml.py writes); ``inspect --copybook`` drafts a mapping from both."""

from __future__ import annotations

from pathlib import Path

import click

from ikou.errors import IkouError
from ikou.i18n import tr


def type_codes(ctx, param, values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for value in values:
        view, sep, code = value.partition("=")
        if not sep or not view or not code:
            raise click.BadParameter(tr("{value!r}: give VIEW=CODE, e.g. DATA-REC=2", value=value))
        out[view] = code
    return out


def copybook_options(command):
    """The options a copybook is read with, shared by ``ikou copybook`` and ``ikou inspect``."""
    for option in reversed([
        click.option("--record", "records", multiple=True, metavar="VIEW",
                     help="Only this record view (a 01 record or a REDEFINES item; repeatable; default: every view)."),
        click.option("--type-field", metavar="NAME", help="The field whose code tells the record views apart "
                     "(e.g. a record type PIC X at byte 0): written as record_type."),
        click.option("--type-code", "codes", multiple=True, metavar="VIEW=CODE", callback=type_codes,
                     help="A view's record type code, e.g. DATA-REC=2 (repeatable): its data_codes, and the "
                          "other views' other_codes."),
        click.option("--copybook-encoding", metavar="ENCODING",
                     help="The copybook's own encoding (default: UTF-8, else CP932)."),
        click.option("--source-format", type=click.Choice(["auto", "fixed", "free"]), default="auto",
                     show_default=True, help="COBOL source format: fixed (columns 8-72) or free."),
    ]):
        command = option(command)
    return command


def read_views(path: Path, records: tuple[str, ...], copybook_encoding: str | None, source_format: str):
    from ikou.copybook import parse_copybook

    book = parse_copybook(path, copybook_encoding, source_format)
    views = [book.view(name) for name in records] if records else list(book.views)
    return book, views


@click.command("copybook")
@click.argument("file", type=click.Path(path_type=Path))
@copybook_options
@click.option("--encoding", default="cp932", show_default=True,
              help="The data file's encoding, written into each source (cp932, jef, keis, cp930 …).")
@click.option("--out", "out", type=click.Path(path_type=Path), help="Write here (default: standard output).")
def copybook(file: Path, records: tuple[str, ...], type_field: str | None, codes: dict[str, str],
             copybook_encoding: str | None, source_format: str, encoding: str, out: Path | None) -> None:
    """Read a COBOL copybook (FILE.cpy) and write the fixed-width part of a source for each
    record view: every field's offset, length, type, digits, scale and sign computed from its
    PIC, USAGE, SIGN, OCCURS and REDEFINES clauses, FILLER declared dropped. Add table, files and
    items, and the source loads (docs/copybooks.md)."""
    from ikou.copybook_yaml import copybook_yaml

    book, views = read_views(file, records, copybook_encoding, source_format)
    text = copybook_yaml(book, views, encoding, type_field, codes, f"ikou copybook {file.name}")
    if out is None:
        click.echo(text, nl=False)
        return
    if out.exists():
        raise IkouError(tr("{out} exists: not overwritten", out=out), hint=tr("name a new file"))
    out.write_text(text, encoding="utf-8")
    click.echo(tr("{count} record view(s) written to {out}", count=len(views), out=out))


@click.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--encoding", help="Use this encoding instead of guessing: cp932, utf-8, utf-8-sig, cp930, cp939, "
              "ebcdik, jef, jef-ebcdic, keis, cp037, cp273, cp500, cp1140.")
@click.option("--record-length", type=click.IntRange(1), help="Bytes per fixed-width record (needed when the "
              "file has no line ends).")
@click.option("--rows", type=click.IntRange(1, 100), default=5, show_default=True, help="Records to show.")
@click.option("--draft-mapping", type=click.Path(path_type=Path),
              help="Write a mapping skeleton naming every column or field, for a person to complete.")
@click.option("--layout", default="resident", show_default=True, help="Layout the skeleton maps into.")
@click.option("--header/--no-header", default=None,
              help="Whether a CSV file has a header row (default: guessed; a first row holding numbers where the "
                   "records do is taken for a record, as in KEN_ALL).")
@click.option("--copybook", "copybook_file", type=click.Path(path_type=Path),
              help="The file's COBOL copybook: the record length from it, and --draft-mapping writes its "
                   "fields (docs/copybooks.md).")
@copybook_options
def inspect(file: Path, encoding: str | None, record_length: int | None, rows: int, draft_mapping: Path | None,
            layout: str, header: bool | None, copybook_file: Path | None, records: tuple[str, ...],
            type_field: str | None, codes: dict[str, str], copybook_encoding: str | None, source_format: str) -> None:
    """Look at an unknown export: guess its encoding, CSV dialect and header (or fixed record
    length), show the first records field by field, and optionally draft a mapping. With
    --copybook, the record length is the copybook's and the draft holds its fields."""
    from ikou.draft import draft_mapping as draft
    from ikou.inspect import inspect_file, render

    book = views = None
    if copybook_file is not None:
        book, views = read_views(copybook_file, records, copybook_encoding, source_format)
        if record_length is not None and record_length != book.record_length:
            raise IkouError(tr("--record-length {length} but the copybook's records are {value} bytes long",
                               length=record_length, value=book.record_length),
                            hint=tr("give one of them"))
        record_length = book.record_length
    result = inspect_file(file, encoding=encoding, record_length=record_length, show=rows, header=header)
    if book is not None:
        if result.format != "fixed":
            raise IkouError(tr("{path}: a copybook describes fixed-width records, but the file is {format}",
                               path=file, format=result.format))
        result.notes.append(tr("record length {length} from the copybook {path}", length=book.record_length,
                               path=copybook_file.name))
        if result.size % (book.record_length + {"crlf": 2, "lf": 1}.get(result.newline, 0)) \
                and not result.short_records:
            result.notes.append(tr("the file's {size:,} bytes are not a whole number of {length}-byte records: "
                                   "is it the right copybook?", size=result.size, length=book.record_length))
    click.echo(render(result), nl=False)
    if draft_mapping is not None:
        if draft_mapping.exists():
            raise IkouError(tr("{draft_mapping} exists: not overwritten", draft_mapping=draft_mapping),
                            hint=tr("name a new file"))
        copybook = (book, views, type_field, codes) if book is not None else None
        draft_mapping.write_text(draft(result, layout, copybook), encoding="utf-8")
        click.echo(tr("\nmapping skeleton written to {draft_mapping}", draft_mapping=draft_mapping))


COMMANDS = (copybook, inspect)

"""The mapping skeleton of ``ikou inspect --draft-mapping``: every column (or one field per
record, for fixed-width) named; an item proposed where a column's name is an item's Japanese name
or a vendor's usual name for it (catalog/column_synonyms.yaml); for each proposed item with a code
table, a code table seeded with the values the column holds in the sample and their counts, each
waiting for its standard code; Excel serial dates marked with their date form. A proposal only:
every TODO stops the run until a person settles it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import yaml

from ikou.errors import IkouError
from ikou.i18n import tr
from ikou.inspect import Inspection, looks_serial

MAX_SEEDED_CODES = 60  # more distinct values than this: probably not a code column; the rest counted
SHOWN_STANDARD_CODES = 12


def column_synonyms(layout_id: str) -> dict[str, str]:
    """Legacy column name -> item, for a layout (ikou/catalog/column_synonyms.yaml)."""
    from importlib import resources

    data = yaml.safe_load((resources.files("ikou.catalog") / "column_synonyms.yaml").read_text(encoding="utf-8"))
    return {name: item for item, names in (data.get(layout_id) or {}).items() for name in names}


def draft_mapping(result: Inspection, layout_name: str = "resident", copybook: tuple | None = None) -> str:
    """A mapping skeleton: every column (or one field per record, for fixed-width) named, and an
    item proposed wherever a column's name is an item's Japanese name in the layout. A column
    without an item is listed for a decision (mapped, kept or dropped with a reason): until it
    has one, the run stops and names it. ``copybook`` (book, views, type field, type codes):
    a fixed-width file's sources are the copybook's record views, every field named."""
    from ikou.layout import load_layout

    if result.format == "zip":
        if result.member is None:
            raise IkouError(tr("{path}: an empty zip archive: nothing to draft a mapping for", path=result.path))
        return (f"# {Path(result.path).name} is a zip archive: unzip it; this skeleton is for its first member.\n"
                + draft_mapping(result.member, layout_name))
    layout = load_layout(layout_name)
    table = next(iter(layout.tables.values()))
    # the layout's own item names first, then the names vendors use (catalog/column_synonyms.yaml)
    by_name = {**column_synonyms(layout.id), **{it.name_ja: it.id for it in table.items}}
    lines = [
        f"# Mapping skeleton written by `ikou inspect` for {Path(result.path).name}: complete every TODO.",
        "# Reference: docs/mapping.md. Check it with: ikou migrate --mapping THIS --input DIR --dry-run",
        "# Editors: `ikou mapping schema > mapping.schema.json`, then start this file with the line",
        "#   # yaml-language-server: $schema=mapping.schema.json",
        "mapping_version: 1",
        'municipality: {code: "TODO", name: TODO}    # 6-digit 全国地方公共団体コード',
        f"layout: {layout_name}",
        "sources:",
    ]
    if copybook is not None:
        return "\n".join(lines + _copybook_sources(result, copybook, table)
                         + ["code_tables: {}                # TODO: legacy code -> standard code per code table"]) + "\n"
    lines += [
        "  - name: TODO",
        f"    table: {table.id}",
        f'    files: "{Path(result.path).name}"',
        f"    format: {result.format}",
    ]
    if result.format == "xlsx":
        lines.append(f"    sheet: {_yaml(result.sheet or '')}")
    else:
        lines.append(f"    encoding: {result.encoding}")
    if result.format in ("csv", "xlsx"):
        if result.skip_rows:
            lines.append(f"    skip_rows: {result.skip_rows}")
        if result.skip_after_header:
            lines.append(f"    skip_after_header: {result.skip_after_header}")
        if not result.has_header:
            lines.append("    header: false               # no header row: columns by their position, from 1")
        if result.format == "csv" and result.delimiter != ",":
            lines.append(f"    delimiter: {_yaml(result.delimiter)}")
        lines.append("    items:")
        used, open_columns, seeded = set(), [], []
        values = result.column_values()
        items = {it.id: it for it in table.items}
        for name in (result.header if result.has_header else ()):
            item = by_name.get(name)
            if item and item not in used:
                used.add(item)
                it = items.get(item)
                if it is not None and it.code_table:
                    seeded.append((name, it))
                    lines.append(f"      {item}: {{column: {_yaml(name)}, code_table: vendor_{it.code_table}}}")
                elif it is not None and it.type == "date" and looks_serial(values.get(name, Counter())):
                    lines.append(f"      {item}: {{column: {_yaml(name)}, date_forms: [excel_serial]}}"
                                 f"    # Excel serial dates, it seems")
                else:
                    lines.append(f"      {item}: {_yaml(name)}")
            else:
                open_columns.append(name)
        if not result.has_header:
            from ikou.masking import mask_number_like

            first = result.records[0] if result.records else []
            lines += ["      # TODO: item: position, for each column (the first record's value shown)"]
            lines += [f"      # ?: {i}    # {mask_number_like(v)!r}" for i, v in enumerate(first, 1)]
        missing = [it for it in table.items if it.required and it.id not in used]
        lines += [f"      # TODO required: {it.id} ({it.name_ja}): map it, or give value: / not_provided:"
                  for it in missing]
        if open_columns:
            lines += ["    # TODO: each column below needs an item above, or a fate here (the run stops until",
                      "    # every column has one): {drop: <why it is not migrated>} or keep (its text lands in",
                      "    # the row's extras)",
                      "    # unmapped_columns:"]
            lines += [f"    #   {_yaml(name)}: {{drop: TODO}}" for name in open_columns]
    else:
        lines += [f"    record_length: {result.record_length or 'TODO'}", f"    newline: {result.newline}",
                  "    fields:                      # TODO: one entry per field (byte offsets from 0)",
                  f"      record: {{offset: 0, length: {result.record_length or 1}}}",
                  "    items:",
                  "      # TODO: item: field"]
        lines += [f"      # TODO required: {it.id} ({it.name_ja})" for it in table.items if it.required]
    if result.format in ("csv", "xlsx") and seeded:
        lines += code_table_seeds(result, seeded, layout)
    else:
        lines.append("code_tables: {}                # TODO: legacy code -> standard code per code table")
    return "\n".join(lines) + "\n"


def _copybook_sources(result: Inspection, copybook: tuple, table) -> list[str]:
    from ikou.copybook_yaml import sources_yaml

    book, views, type_field, codes = copybook
    head = [f"table: {table.id}                # TODO: the table this record view lands in",
            f'files: "{Path(result.path).name}"', f"newline: {result.newline}"]
    if result.short_records:
        head.append(f"short_records: {result.short_records}")
    tail = ["items:", "  # TODO: item: field (a PIC 9 field into a text item: {column: FIELD, pad: DIGITS})"]
    tail += [f"  # TODO required: {it.id} ({it.name_ja})" for it in table.items if it.required]
    return sources_yaml(book, views, result.encoding, type_field, codes, tuple(head), tuple(tail))


def code_table_seeds(result: Inspection, seeded: list, layout) -> list[str]:
    """A code table per coded item: the column's values in the sample with their counts, each
    mapped to TODO (which no standard code table holds: the mapping check names every one left)."""
    values = result.column_values()
    lines = ["code_tables:", f"  # seeded from the values of the first {len(result.sample):,} records "
             "(ikou inspect reads the file's first MiB): a code not seen there is reported by the run"]
    for name, it in seeded:
        standard = layout.code_tables.get(it.code_table)
        counts = values.get(name, Counter())
        lines += [f"  vendor_{it.code_table}:    # {name} -> {it.id} ({it.name_ja})",
                  f"    standard: {it.code_table}", "    unmapped: reject"]
        if standard is not None and standard.codes:
            shown = ", ".join(f"{c} {n}" for c, n in list(standard.codes.items())[:SHOWN_STANDARD_CODES])
            more = len(standard.codes) - SHOWN_STANDARD_CODES
            lines.append(f"    # standard codes ({standard.name_ja}): {shown}"
                         + (f", … {more} more (ikou layouts show {layout.id})" if more > 0 else ""))
        ranked = sorted(((v, n) for v, n in counts.items() if v), key=lambda vn: (-vn[1], vn[0]))
        if not ranked:
            lines.append("    codes: {}    # TODO: the column is empty in the sample")
            continue
        lines.append("    codes:    # TODO: the standard code of each legacy code (records in the sample)")
        lines += [f"      {_yaml(v)}: TODO    # {n:,}" for v, n in ranked[:MAX_SEEDED_CODES]]
        if len(ranked) > MAX_SEEDED_CODES:
            rest = sum(n for _, n in ranked[MAX_SEEDED_CODES:])
            lines.append(f"      # … {len(ranked) - MAX_SEEDED_CODES} more values ({rest:,} records): is this a code column?")
        if counts.get(""):
            lines.append(f"      # empty in {counts['']:,} records (an empty value maps to nothing)")
    return lines


def _yaml(text: str) -> str:
    """One double-quoted YAML scalar (a tab stays a tab, a quote stays a quote), written by the
    YAML library so that the skeleton reads back as what inspect found."""
    return yaml.safe_dump(text, allow_unicode=True, default_style='"', width=1 << 20).rstrip("\n")

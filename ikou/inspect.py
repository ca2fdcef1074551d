"""`ikou inspect FILE`: a first look at an unknown export.

Guesses the encoding (a BOM, strict UTF-8, CP932, or EBCDIC by its byte statistics), whether
the file is CSV (delimiter, metadata rows before the header, header) or fixed-width records
(record length), decodes the first records field by field, and can write a mapping skeleton
that names every column or field for a person to complete. Every guess says why; options
(``--encoding``, ``--record-length``) replace a guess with a fact.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml

import ikou.codecs  # noqa: F401  (registers the EBCDIC codecs)
from ikou.errors import IkouError
from ikou.i18n import tr
from ikou.mapping import FIXED_ENCODINGS

SAMPLE_BYTES = 1 << 20
DELIMITERS = [",", "\t", "|", ";"]
KNOWN = ["cp932", "utf-8", "utf-8-sig", "cp930", "cp939", "ebcdik", "jef", "jef-ebcdic", "keis"]


@dataclass
class Inspection:
    path: str
    size: int
    encoding: str
    encoding_reason: str
    format: str  # csv | fixed | xlsx | zip
    delimiter: str | None = None
    skip_rows: int = 0
    skip_after_header: int = 0
    header: list[str] = field(default_factory=list)  # without a header row: the positions "1", "2", …
    has_header: bool = True
    records: list[list[str]] = field(default_factory=list)  # first records, decoded, field by field
    record_length: int | None = None
    newline: str = "none"
    notes: list[str] = field(default_factory=list)
    sheets: list[tuple[str, int, int]] = field(default_factory=list)  # workbook: (name, rows, columns)
    sheet: str | None = None  # workbook: the sheet shown
    members: list[tuple[str, int]] = field(default_factory=list)  # zip archive: (name, bytes)
    member: "Inspection | None" = None  # zip archive: the first member, inspected


def _bad_sequences(sample: bytes, codec: str) -> int:
    """Undecodable sequences in the sample (a cut at its very end does not count)."""
    text = sample.decode(codec, "replace")
    bad = text.count("\ufffd") - (1 if text.endswith("\ufffd") else 0)
    if codec == "cp932":  # undefined bytes Python's codec lets through (see extract/decoding.py)
        bad += sum(text.count(ch) for ch in "\u0080\uf8f0\uf8f1\uf8f2\uf8f3")
    return bad


def guess_encoding(sample: bytes) -> tuple[str, str]:
    if sample.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig", "starts with a UTF-8 byte-order mark"
    if not any(b >= 0x80 for b in sample):
        return "utf-8", "plain ASCII: utf-8 and cp932 read it the same"
    if _bad_sequences(sample, "utf-8") == 0:
        return "utf-8", "decodes as UTF-8"
    # EBCDIC first: its bytes often also "decode" as CP932 (F0-F9 are CP932 外字 lead bytes)
    counts = Counter(sample)
    n = max(len(sample), 1)
    spaces, digits = counts[0x40] / n, sum(counts[b] for b in range(0xF0, 0xFA)) / n
    if spaces > 0.05 and spaces + digits > 0.2 and counts[0x20] / n < 0.01:
        stats = f"{spaces:.0%} EBCDIC spaces 0x40 and {digits:.0%} EBCDIC digits F0–F9, almost no ASCII spaces"
        if counts[0x0E] + counts[0x0F]:
            lower = sum(counts[b] for b in range(0x81, 0x8A)) / n
            return ("cp939" if lower > 0.02 else "cp930",
                    f"{stats}, with shift-out/shift-in codes: IBM mixed EBCDIC (confirm cp930/cp939, or jef/keis, "
                    f"with the vendor)")
        return "ebcdik", stats
    tolerated = max(1, len(sample) // 2000)  # a few broken records do not make it another encoding
    for codec, label in (("cp932", "CP932"), ("utf-8", "UTF-8")):
        bad = _bad_sequences(sample, codec)
        if bad == 0:
            return codec, f"decodes as {label} (and not as UTF-8)"
        if bad <= tolerated:
            return codec, (f"decodes as {label} but for {bad} invalid byte sequence(s) in the first "
                           f"{len(sample):,} bytes: those records will be rejected with their offsets")
    return "cp932", "no encoding fits cleanly; CP932 is the most likely for a municipal export (check it)"


def _rows(text: str, delimiter: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


def inspect_file(path: Path, encoding: str | None = None, record_length: int | None = None,
                 show: int = 5, header: bool | None = None) -> Inspection:
    """``header``: whether a CSV file has a header row (None: guessed)."""
    if not path.is_file():
        raise IkouError(tr("{path} is not a file", path=path))
    size = path.stat().st_size
    if size == 0:
        raise IkouError(tr("{path} is empty", path=path))
    from ikou.filekinds import sniff

    kind, what = sniff(path)
    if kind in ("xlsx", "xls", "ods"):
        return _inspect_workbook(path, size, what, show)
    if kind == "zip":
        return _inspect_zip(path, size, what, encoding, record_length, show)
    with open(path, "rb") as fh:
        sample = fh.read(SAMPLE_BYTES)
    return _inspect_bytes(str(path), size, sample, encoding, record_length, show, header)


def _inspect_bytes(path: str, size: int, sample: bytes, encoding: str | None, record_length: int | None,
                   show: int, header: bool | None = None) -> Inspection:
    if encoding is not None:
        encoding = encoding.lower().replace("_", "-")
        if encoding not in FIXED_ENCODINGS:
            raise IkouError(tr("unknown encoding {encoding!r}", encoding=encoding), hint=tr("supported: {values}", values=', '.join(KNOWN)))
        reason = "given with --encoding"
    else:
        encoding, reason = guess_encoding(sample)
    codec = FIXED_ENCODINGS[encoding]
    ascii_compatible = codec in ("cp932", "utf-8")
    result = Inspection(path=path, size=size, encoding=encoding, encoding_reason=reason, format="fixed")
    if ascii_compatible and record_length is None:
        text = sample[3:] if sample.startswith(b"\xef\xbb\xbf") else sample
        text = text.decode(codec, "replace")
        if len(sample) == SAMPLE_BYTES:
            text = text[:text.rfind("\n") + 1] or text  # drop the cut last line
        csv_guess = _guess_csv(text)
        if csv_guess is not None:
            result.format = "csv"
            result.delimiter, result.skip_rows, result.skip_after_header, result.header, rows, why = csv_guess
            if why:
                result.notes.append(why)
            if header is False or (header is None and not result.skip_after_header
                                   and first_row_is_data(result.header, rows)):
                # the row taken for the header is the first record: columns are named by position
                rows = [result.header, *rows]
                result.header, result.has_header = [str(i) for i in range(1, len(rows[0]) + 1)], False
                result.notes.append("no header row (given with --no-header)" if header is False else
                                    "no header row: the first row holds numbers where the records do (use "
                                    "--header if it is one); columns are named by position (header: false)")
            else:
                result.header = [c.strip() for c in result.header]
            result.records = rows[:show]
            return result
    _guess_fixed(result, sample, record_length, show)
    return result


def _inspect_workbook(path: Path, size: int, what: str, show: int) -> Inspection:
    """A workbook: its sheets, and the first sheet's header and first rows (cells as text, the
    way ``format: xlsx`` reads them)."""
    from python_calamine import CalamineWorkbook

    from ikou.extract.xlsx_file import cell_text

    try:
        book = CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # noqa: BLE001 - calamine's own error types
        raise IkouError(tr("{path}: {what}, but it cannot be read ({__name__}: {exc})",
                           path=path, what=what, __name__=type(exc).__name__, exc=exc)) from exc
    result = Inspection(path=str(path), size=size, encoding="", encoding_reason="a workbook holds Unicode text",
                        format="xlsx", notes=[f"{what}: read it with format: xlsx"])
    for name in book.sheet_names:
        sheet = book.get_sheet_by_name(name)
        result.sheets.append((name, sheet.height, sheet.width))
    if not result.sheets:
        return result
    result.sheet = result.sheets[0][0]
    rows = [[cell_text(c) or "" for c in r] for r in book.get_sheet_by_name(result.sheet).iter_rows()][:200]
    text = "\n".join(",".join('"' + c.replace('"', '""') + '"' for c in r) for r in rows)
    guess = _guess_csv(text)
    if guess is not None:
        _, result.skip_rows, result.skip_after_header, header, data, why = guess
        result.header, result.records = [c.strip() for c in header], data[:show]
        if why:
            result.notes.append(why)
    return result


def _inspect_zip(path: Path, size: int, what: str, encoding: str | None, record_length: int | None,
                 show: int) -> Inspection:
    """A zip archive (KEN_ALL ships so): its members, and the first one inspected from inside."""
    import zipfile

    from ikou.filekinds import zip_members

    members = zip_members(path)
    result = Inspection(path=str(path), size=size, encoding="", encoding_reason="", format="zip", members=members,
                        notes=[f"{what}: unzip it and point the mapping's files at the member (ikou reads the "
                               "member, not the archive)"])
    if members:
        with zipfile.ZipFile(path) as zf, zf.open(members[0][0]) as fh:
            sample = fh.read(SAMPLE_BYTES)
        result.member = _inspect_bytes(f"{path.name}/{members[0][0]}", members[0][1], sample, encoding,
                                       record_length, show)
    return result


def _guess_csv(text: str) -> tuple[str, int, int, list[str], list[list[str]], str] | None:
    """Delimiter, rows before the header, rows between header and data, header, data rows and a
    sentence saying why."""
    best = None
    for d in DELIMITERS:
        rows = [r for r in _rows(text, d) if r]
        if len(rows) < 2:
            continue
        widths = Counter(len(r) for r in rows)
        width, count = widths.most_common(1)[0]
        if width < 2 or count < max(2, 0.6 * len(rows)):
            continue
        if best is None or (count, width) > (best[0], best[1]):
            best = (count, width, d, rows)
    if best is None:
        return None
    _, width, delimiter, rows = best
    marked = [i for i, r in enumerate(rows[:50]) if r[0].startswith("#")]
    leading = next((i for i, r in enumerate(rows) if not r[0].startswith("#")), len(rows))
    if marked and marked[0] == 0 and leading < len(rows):
        # LinkData-style metadata rows (#LINK, #lang, …): '#property' names the columns
        prop = next((i for i in range(leading) if rows[i][0].strip() == "#property"), None)
        if prop is not None:
            why = (f"rows 1–{leading} start with '#' (LinkData metadata); the '#property' row {prop + 1} names "
                   f"the columns: skip_rows: {prop}, skip_after_header: {leading - prop - 1}") if leading > 1 else \
                "the header row starts with '#property' (a LinkData column list): its first column holds numbers"
            return (delimiter, prop, leading - prop - 1, [c.strip() for c in rows[prop]], rows[leading:], why)
        return (delimiter, leading, 0, [c.strip() for c in rows[leading]], rows[leading + 1:],
                f"rows 1–{leading} start with '#': metadata (skip_rows: {leading})")
    first = next(i for i, r in enumerate(rows) if len(r) == width)
    why = (f"{first} row(s) before the header do not have its shape: metadata (skip_rows: {first})"
           if first else "")
    return delimiter, first, 0, rows[first], rows[first + 1:], why  # the callers strip a header's names


def _digits(value: str) -> bool:
    v = value.strip().replace("-", "")
    return bool(v) and v.isdigit()


def first_row_is_data(first: list[str], rows: list[list[str]]) -> bool:
    """Whether the row taken for the header is a record: in the columns where (nearly) every record
    holds a number, it holds numbers too (a header holds names there). KEN_ALL has no header."""
    sample = [r for r in rows[:200] if len(r) == len(first)]
    if len(sample) < 2:
        return False
    numeric = [j for j in range(len(first)) if sum(_digits(r[j]) for r in sample) >= 0.9 * len(sample)]
    return len(numeric) >= 2 and sum(_digits(first[j]) for j in numeric) >= 0.5 * len(numeric)


def _guess_fixed(result: Inspection, sample: bytes, record_length: int | None, show: int) -> None:
    lines = sample.split(b"\n")
    lengths = Counter(len(line.rstrip(b"\r")) for line in lines[:-1] if line)
    if record_length is None and lengths:
        length, count = lengths.most_common(1)[0]
        if count >= max(2, 0.8 * sum(lengths.values())):
            record_length = length
            result.newline = "crlf" if lines[0].endswith(b"\r") else "lf"
            result.notes.append(f"{count} of {sum(lengths.values())} lines are {length} bytes long: "
                                f"fixed-width records with {result.newline} line ends")
    if record_length is None:
        record_length, score = guess_record_length(sample)
        if record_length is None:
            result.notes.append("no line ends and no repeating record structure: give --record-length N")
            return
        result.notes.append(f"no line ends; the bytes repeat their structure every {record_length} bytes "
                            f"({score:.0%} of bytes equal one record later): record length {record_length} "
                            f"(confirm it, or give --record-length)")
    if result.newline == "none" and b"\n" in sample[:record_length + 2][record_length:]:
        result.newline = "crlf" if sample[record_length:record_length + 2] == b"\r\n" else "lf"
    result.record_length = record_length
    if result.encoding in ("ebcdik", "cp930", "cp939"):
        result.notes.append("EBCDIC: which double-byte code (cp930/cp939, jef, keis) only the vendor can say; "
                            "double-byte fields without shift codes look garbled in a single-byte view — try "
                            "--encoding jef, keis or cp930 and declare such fields as type kanji")
    stride = record_length + {"crlf": 2, "lf": 1}.get(result.newline, 0)
    for i in range(show):
        raw = sample[i * stride:i * stride + record_length]
        if len(raw) < record_length:
            break
        result.records.append([raw.decode(FIXED_ENCODINGS[result.encoding], "backslashreplace")])


def guess_record_length(sample: bytes, longest: int = 2048) -> tuple[int | None, float]:
    """Fixed-size records repeat their structure (type codes, padding, numbers) every record
    length L: the share of bytes equal to the byte L further on peaks at L and its multiples.
    The smallest shift within 95% of the best score wins."""
    import numpy as np

    a = np.frombuffer(sample[: 256 * 1024], dtype=np.uint8)
    if len(a) < 64:
        return None, 0.0
    shifts = range(8, min(longest, len(a) // 4) + 1)
    scores = np.array([np.count_nonzero(a[:-k] == a[k:]) / (len(a) - k) for k in shifts])
    if not len(scores) or scores.max() < 0.5:
        return None, float(scores.max()) if len(scores) else 0.0
    best = int(np.flatnonzero(scores >= 0.95 * scores.max())[0])
    return shifts[best], float(scores[best])


def render(result: Inspection) -> str:
    """What a person reads: 個人番号-like digit runs masked in every record shown."""
    from ikou.masking import mask_number_like

    if result.format == "zip":
        out = [f"{result.path}: {result.size:,} bytes, a zip archive of {len(result.members)} file(s)"]
        out += [f"  {name}  {n:,} bytes" for name, n in result.members]
        out += [f"note      {n}" for n in result.notes]
        if result.member is not None:
            out += ["", "first member, as ikou would read it once unzipped:", render(result.member).rstrip("\n")]
        return "\n".join(out) + "\n"
    if result.format == "xlsx":
        out = [f"{result.path}: {result.size:,} bytes, a workbook of {len(result.sheets)} sheet(s)"]
        out += [f"  sheet {name!r}: {rows} rows × {cols} columns" for name, rows, cols in result.sheets]
        if result.sheet is not None:
            out.append(f"format    xlsx, sheet {result.sheet!r}, {len(result.header)} columns, header at row "
                       f"{result.skip_rows + 1}")
    else:
        out = [f"{result.path}: {result.size:,} bytes",
               f"encoding  {result.encoding}  ({result.encoding_reason})"]
    if result.format == "csv":
        name = {",": "comma", "\t": "tab", "|": "pipe", ";": "semicolon"}[result.delimiter]
        out.append(f"format    csv, {name}-separated, {len(result.header)} columns, "
                   + (f"header at row {result.skip_rows + 1}" if result.has_header
                      else "no header (columns by position)"))
    elif result.format == "fixed":
        out.append(f"format    fixed-width, record length {result.record_length or '?'} bytes, "
                   f"newline {result.newline}")
    out += [f"note      {n}" for n in result.notes]
    if result.format in ("csv", "xlsx"):
        from ikou.textwidth import display_width, pad_display

        width = max((display_width(name) for name in result.header), default=0)
        for i, rec in enumerate(result.records, 1):
            out.append(f"\nrecord {i}")
            for name, value in zip(result.header, rec):
                out.append(f"  {pad_display(name, width)}  {mask_number_like(value)!r}")
    else:
        for i, (rec,) in enumerate(result.records, 1):
            ruler = "".join(f"{k:<10}" for k in range(0, len(rec), 10))
            out += [f"\nrecord {i} (byte offsets: characters may be wider than one byte)", f"  {ruler}",
                    f"  {mask_number_like(rec, keep_length=True)}"]
    return "\n".join(out) + "\n"


def column_synonyms(layout_id: str) -> dict[str, str]:
    """Legacy column name -> item, for a layout (ikou/catalog/column_synonyms.yaml)."""
    from importlib import resources

    import yaml

    data = yaml.safe_load((resources.files("ikou.catalog") / "column_synonyms.yaml").read_text(encoding="utf-8"))
    return {name: item for item, names in (data.get(layout_id) or {}).items() for name in names}


def draft_mapping(result: Inspection, layout_name: str = "resident") -> str:
    """A mapping skeleton: every column (or one field per record, for fixed-width) named, and an
    item proposed wherever a column's name is an item's Japanese name in the layout. A column
    without an item is listed for a decision (mapped, kept or dropped with a reason): until it
    has one, the run stops and names it."""
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
        used, open_columns = set(), []
        for name in (result.header if result.has_header else ()):
            item = by_name.get(name)
            if item and item not in used:
                used.add(item)
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
    lines.append("code_tables: {}                # TODO: legacy code -> standard code per code table")
    return "\n".join(lines) + "\n"


def _yaml(text: str) -> str:
    """One double-quoted YAML scalar (a tab stays a tab, a quote stays a quote), written by the
    YAML library so that the skeleton reads back as what inspect found."""
    return yaml.safe_dump(text, allow_unicode=True, default_style='"', width=1 << 20).rstrip("\n")

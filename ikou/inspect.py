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
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

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
    short_records: str | None = None  # "pad": LINE SEQUENTIAL records with their trailing blanks trimmed
    notes: list[str] = field(default_factory=list)
    sheets: list[tuple[str, int, int]] = field(default_factory=list)  # workbook: (name, rows, columns)
    sheet: str | None = None  # workbook: the sheet shown
    members: list[tuple[str, int]] = field(default_factory=list)  # zip archive: (name, bytes)
    member: "Inspection | None" = None  # zip archive: the first member, inspected
    sample: list[list[str]] = field(default_factory=list, repr=False)  # every record of the sample read

    def column_values(self) -> dict[str, Counter]:
        """Each column's values over the sample, counted (the draft's code tables, date checks)."""
        counts: dict[str, Counter] = {name: Counter() for name in self.header}
        for row in self.sample:
            for name, value in zip(self.header, row):
                counts[name][value.strip()] += 1
        return counts


def _bad_sequences(sample: bytes, codec: str) -> int:
    """Undecodable sequences in the sample (a cut at its very end does not count)."""
    text = sample.decode(codec, "replace")
    bad = text.count("\ufffd") - (1 if text.endswith("\ufffd") else 0)
    if codec == "cp932":  # undefined bytes Python's codec lets through (see extract/decoding.py)
        bad += sum(text.count(ch) for ch in "\u0080\uf8f0\uf8f1\uf8f2\uf8f3")
    return bad


def guess_encoding(sample: bytes) -> tuple[str, str]:
    if sample.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig", tr("starts with a UTF-8 byte-order mark")
    if not any(b >= 0x80 for b in sample):
        return "utf-8", tr("plain ASCII: utf-8 and cp932 read it the same")
    if _bad_sequences(sample, "utf-8") == 0:
        return "utf-8", tr("decodes as UTF-8")
    # EBCDIC first: its bytes often also "decode" as CP932 (F0-F9 are CP932 外字 lead bytes)
    counts = Counter(sample)
    n = max(len(sample), 1)
    spaces, digits = counts[0x40] / n, sum(counts[b] for b in range(0xF0, 0xFA)) / n
    if spaces > 0.05 and spaces + digits > 0.2 and counts[0x20] / n < 0.01:
        stats = tr("{spaces:.0%} EBCDIC spaces 0x40 and {digits:.0%} EBCDIC digits F0–F9, almost no ASCII spaces",
                   spaces=spaces, digits=digits)
        if counts[0x0E] + counts[0x0F]:
            lower = sum(counts[b] for b in range(0x81, 0x8A)) / n
            return ("cp939" if lower > 0.02 else "cp930",
                    tr("{stats}, with shift-out/shift-in codes: IBM mixed EBCDIC (confirm cp930/cp939, or "
                       "jef/keis, with the vendor)", stats=stats))
        return "ebcdik", stats
    tolerated = max(1, len(sample) // 2000)  # a few broken records do not make it another encoding
    for codec, label in (("cp932", "CP932"), ("utf-8", "UTF-8")):
        bad = _bad_sequences(sample, codec)
        if bad == 0:
            return codec, tr("decodes as {label} (and not as UTF-8)", label=label)
        if bad <= tolerated:
            return codec, tr("decodes as {label} but for {bad} invalid byte sequence(s) in the first {n:,} bytes: "
                             "those records will be rejected with their offsets", label=label, bad=bad, n=len(sample))
    return "cp932", tr("no encoding fits cleanly; CP932 is the most likely for a municipal export (check it)")


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
        reason = tr("given with --encoding")
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
                result.notes.append(tr("no header row (given with --no-header)") if header is False else
                                    tr("no header row: the first row holds numbers where the records do (use "
                                       "--header if it is one); columns are named by position (header: false)"))
            else:
                result.header = [c.strip() for c in result.header]
            result.records, result.sample = rows[:show], rows
            result.notes += serial_date_notes(result)
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
    result = Inspection(path=str(path), size=size, encoding="", encoding_reason=tr("a workbook holds Unicode text"),
                        format="xlsx", notes=[tr("{what}: read it with format: xlsx", what=what)])
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
        result.header, result.records, result.sample = [c.strip() for c in header], data[:show], data
        if why:
            result.notes.append(why)
        result.notes += serial_date_notes(result)
    return result


def _inspect_zip(path: Path, size: int, what: str, encoding: str | None, record_length: int | None,
                 show: int) -> Inspection:
    """A zip archive (KEN_ALL ships so): its members, and the first one inspected from inside."""
    import zipfile

    from ikou.filekinds import zip_members

    members = zip_members(path)
    result = Inspection(path=str(path), size=size, encoding="", encoding_reason="", format="zip", members=members,
                        notes=[tr("{what}: unzip it and point the mapping's files at the member (ikou reads the "
                                  "member, not the archive)", what=what)])
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
            why = tr("rows 1–{leading} start with '#' (LinkData metadata); the '#property' row {row} names the "
                     "columns: skip_rows: {prop}, skip_after_header: {after}", leading=leading, row=prop + 1, prop=prop,
                     after=leading - prop - 1) if leading > 1 else \
                tr("the header row starts with '#property' (a LinkData column list): its first column holds numbers")
            return (delimiter, prop, leading - prop - 1, [c.strip() for c in rows[prop]], rows[leading:], why)
        return (delimiter, leading, 0, [c.strip() for c in rows[leading]], rows[leading + 1:],
                tr("rows 1–{leading} start with '#': metadata (skip_rows: {leading})", leading=leading))
    first = next(i for i, r in enumerate(rows) if len(r) == width)
    why = (tr("{first} row(s) before the header do not have its shape: metadata (skip_rows: {first})", first=first)
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


CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _line_ends(sample: bytes) -> str | None:
    """Whether the sample is lines of text (LINE SEQUENTIAL): lf or crlf, else None (binary
    fields hold 0x0A bytes that end no line)."""
    lines = sample.split(b"\n")[:-1]
    if len(lines) < 2 or CONTROL_BYTES.search(sample):
        return None
    return "crlf" if sum(line.endswith(b"\r") for line in lines) >= 0.9 * len(lines) else "lf"


def _guess_fixed(result: Inspection, sample: bytes, record_length: int | None, show: int) -> None:
    lines = [line.rstrip(b"\r") for line in sample.split(b"\n")[:-1]]
    lengths = Counter(len(line) for line in lines if line)
    newline = _line_ends(sample) if result.encoding in ("cp932", "utf-8", "utf-8-sig") else None
    if record_length is None and lengths:
        length, count = lengths.most_common(1)[0]
        longest = max(lengths)
        if count >= max(2, 0.8 * sum(lengths.values())):  # longer lines: broken records, rejected by the run
            record_length, result.newline = length, newline or "lf"
            result.notes.append(tr("{count} of {lines} lines are {length} bytes long: fixed-width records with "
                                   "{newline} line ends", count=count, lines=sum(lengths.values()), length=length,
                                   newline=result.newline))
            if newline is not None and min(lengths) < length:
                result.short_records = "pad"
                result.notes.append(tr("the other lines are shorter (a header, a trailer, trailing blanks trimmed): "
                                       "short_records: pad"))
        elif newline is not None:
            # LINE SEQUENTIAL as COBOL runtimes write it: each record's trailing blanks trimmed
            record_length, result.newline, result.short_records = longest, newline, "pad"
            result.notes.append(tr("lines of {shortest} to {length} bytes: LINE SEQUENTIAL records with their "
                                   "trailing blanks trimmed, it seems; record length {length} (the longest line: "
                                   "confirm it, or give --record-length), short_records: pad",
                                   shortest=min(lengths), length=longest))
    elif record_length is not None and newline is not None and lengths and max(lengths) <= record_length:
        result.newline = newline
        if min(lengths) < record_length:
            result.short_records = "pad"
            result.notes.append(tr("lines of {shortest} to {longest} bytes, records of {length}: trailing blanks "
                                   "trimmed (short_records: pad)", shortest=min(lengths), longest=max(lengths),
                                   length=record_length))
    if record_length is None:
        record_length, score = guess_record_length(sample)
        if record_length is None:
            result.notes.append(tr("no line ends and no repeating record structure: give --record-length N"))
            return
        result.notes.append(tr("no line ends; the bytes repeat their structure every {length} bytes ({score:.0%} of "
                               "bytes equal one record later): record length {length} (confirm it, or give "
                               "--record-length)", length=record_length, score=score))
    if result.newline == "none" and b"\n" in sample[:record_length + 2][record_length:]:
        result.newline = "crlf" if sample[record_length:record_length + 2] == b"\r\n" else "lf"
    result.record_length = record_length
    if result.encoding in ("ebcdik", "cp930", "cp939"):
        result.notes.append(tr("EBCDIC: which double-byte code (cp930/cp939, jef, keis) only the vendor can say; "
                               "double-byte fields without shift codes look garbled in a single-byte view — try "
                               "--encoding jef, keis or cp930 and declare such fields as type kanji"))
    if result.short_records:
        raws = [line.ljust(record_length, b" ") for line in lines[:show]]
    else:
        stride = record_length + {"crlf": 2, "lf": 1}.get(result.newline, 0)
        raws = [sample[i * stride:i * stride + record_length] for i in range(show)]
    for raw in raws:
        if len(raw) < record_length:
            break
        result.records.append([raw.decode(FIXED_ENCODINGS[result.encoding], "backslashreplace")])


def _autocorrelation(a, top: int):
    """The share of bytes equal to the byte k further on, for k = 1 … top + 2."""
    import numpy as np

    return np.array([np.count_nonzero(a[:-k] == a[k:]) / (len(a) - k) for k in range(1, top + 3)])


def _robust_z(x):
    import numpy as np

    base = np.median(x)
    return (x - base) / max(1.4826 * float(np.median(np.abs(x - base))), 1e-3)


def guess_record_length(sample: bytes, longest: int = 2048, multiples: int = 4) -> tuple[int | None, float]:
    """Fixed-size records repeat their structure (type codes, padding, numbers) every record
    length L: the share of bytes equal to the byte k further on stands out at k = L and at every
    multiple of L. The answer is the smallest L (8 … ``longest``) at which nearly every multiple
    (the tenth percentile of them) stands out — against all shifts, or against its neighbours
    (text full of blanks is alike at every shift). Nearly every multiple: a divisor of L that is
    no period (L/2) stands out only at its even multiples; a longer cycle in the data (every tenth
    record alike) does not hide L, whose multiples all stand out. Tried on COBOL's own files
    (binary, packed, separate signs, two record types alternating), EBCDIC and JEF streams."""
    import numpy as np

    a = np.frombuffer(sample[: 256 * 1024], dtype=np.uint8)
    top = min(longest * multiples, len(a) // 4)
    if top < 8 * multiples:
        return None, 0.0
    s = _autocorrelation(a, top)
    padded = np.concatenate([[s[0], s[0]], s])
    neighbours = np.maximum.reduce([padded[0:-4], padded[1:-3], padded[3:-1], padded[4:]])
    overall, local = _robust_z(s[:top]), _robust_z((padded[2:-2] - neighbours)[:top])
    for length in range(8, top // multiples + 1):
        at = slice(length - 1, None, length)
        if np.percentile(overall[at], 10) >= 4 or np.percentile(local[at], 10) >= 4:
            return length, float(s[length - 1])
    return None, 0.0


def render(result: Inspection) -> str:
    """What a person reads, in the current language: 個人番号-like digit runs masked in every
    record shown."""
    from ikou.masking import mask_number_like
    from ikou.textwidth import pad_display

    note = pad_display(tr("note"), 9)
    if result.format == "zip":
        out = [tr("{path}: {size:,} bytes, a zip archive of {n} file(s)", path=result.path, size=result.size,
                  n=len(result.members))]
        out += [f"  {name}  " + tr("{n:,} bytes", n=n) for name, n in result.members]
        out += [f"{note} {n}" for n in result.notes]
        if result.member is not None:
            out += ["", tr("first member, as ikou would read it once unzipped:"), render(result.member).rstrip("\n")]
        return "\n".join(out) + "\n"
    if result.format == "xlsx":
        out = [tr("{path}: {size:,} bytes, a workbook of {n} sheet(s)", path=result.path, size=result.size,
                  n=len(result.sheets))]
        out += [tr("  sheet {name!r}: {rows} rows × {cols} columns", name=name, rows=rows, cols=cols)
                for name, rows, cols in result.sheets]
        if result.sheet is not None:
            out.append(tr("format    xlsx, sheet {sheet!r}, {n} columns, header at row {row}", sheet=result.sheet,
                          n=len(result.header), row=result.skip_rows + 1))
    else:
        out = [tr("{path}: {size:,} bytes", path=result.path, size=result.size),
               tr("encoding  {encoding}  ({reason})", encoding=result.encoding, reason=result.encoding_reason)]
    if result.format == "csv":
        name = {",": tr("comma"), "\t": tr("tab"), "|": tr("pipe"), ";": tr("semicolon")}[result.delimiter]
        out.append(tr("format    csv, {name}-separated, {n} columns, ", name=name, n=len(result.header))
                   + (tr("header at row {row}", row=result.skip_rows + 1) if result.has_header
                      else tr("no header (columns by position)")))
    elif result.format == "fixed":
        out.append(tr("format    fixed-width, record length {length} bytes, newline {newline}",
                      length=result.record_length or "?", newline=result.newline))
    out += [f"{note} {n}" for n in result.notes]
    if result.format in ("csv", "xlsx"):
        from ikou.textwidth import display_width

        width = max((display_width(name) for name in result.header), default=0)
        for i, rec in enumerate(result.records, 1):
            out.append("\n" + tr("record {i}", i=i))
            for name, value in zip(result.header, rec):
                out.append(f"  {pad_display(name, width)}  {mask_number_like(value)!r}")
    else:
        for i, (rec,) in enumerate(result.records, 1):
            ruler = "".join(f"{k:<10}" for k in range(0, len(rec), 10))
            out += ["\n" + tr("record {i} (byte offsets: characters may be wider than one byte)", i=i), f"  {ruler}",
                    f"  {mask_number_like(rec, keep_length=True)}"]
    return "\n".join(out) + "\n"


SERIAL = re.compile(r"[0-9]{5}(\.0+)?")
SERIAL_RANGE = (7000, 73000)  # 1919-03-01 … 2099-11-12: dates a resident record holds
DATE_WORDS = ("日", "年月", "date", "Date", "DATE")


def looks_serial(values: Counter) -> bool:
    """Every non-empty value a whole number of days in the date range, as Excel stores a date
    cell that lost its format (45016 = 2023-03-29)."""
    seen = [v for v in values if v]
    return bool(seen) and all(SERIAL.fullmatch(v) and SERIAL_RANGE[0] <= float(v) <= SERIAL_RANGE[1] for v in seen)


def serial_date_notes(result: Inspection) -> list[str]:
    """A note per column named like a date whose values look like Excel serial dates."""
    import datetime as dt

    notes = []
    for name, values in result.column_values().items():
        if any(w in name for w in DATE_WORDS) and looks_serial(values):
            example = next(v for v in values if v)
            day = dt.date(1899, 12, 30) + dt.timedelta(days=int(float(example)))
            notes.append(tr("column {name!r} holds Excel serial dates, it seems ({example} = {day}): give its item "
                            "date_forms: [excel_serial]", name=name, example=example, day=day.isoformat()))
    return notes

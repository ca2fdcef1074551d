"""Streaming CSV extractor: CP932 or UTF-8 (with or without BOM), CRLF or LF, quoted fields with
line breaks, metadata rows before the header.

How it stays fast and exact:
- Record boundaries are found at the byte level with numpy, as Python's csv module and Excel
  read them (csv_records.py): a quote opens a quoted field only at a field start, a quote
  elsewhere is data; the few records with such quotes are read by the csv module itself, and a
  quoted field that does not close within the record limits costs its own record only.
- Each chunk (``CHUNK_BYTES``, cut at a record boundary) is decoded with Python's codec in one
  call and handed to ``polars.read_csv`` with every column as a string, so leading zeros survive.
  The decode records where invalid bytes are and replaces only them, so every record keeps its
  shape; only the records holding them are examined one by one, and their rows are dropped
  after parsing, so no chunk is decoded twice.
- Every record ends in exactly one place: a row of the chunk frame, or a reject (reason code,
  line, byte offset, raw bytes). ``FileStats.records`` counts records independently of polars.

CP932 decoding note: Python's ``cp932`` codec maps the undefined single bytes 0x80, 0xA0 and
0xFD-0xFF to U+0080 and U+F8F0-U+F8F3 instead of failing. ikou treats them as invalid bytes.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl

from ikou.errors import ExitCode, IkouError
from ikou.extract.csv_records import (
    CUT,
    IRREGULAR,
    LONE_CR,
    REGULAR,
    RecordLimits,
    Scan,
    protect_lone_crs,
    read_fields,
    scan,
)
from ikou.extract.decoding import (
    FORBIDDEN_CHARS,
    RECORDING,
    check_invalid_rate,
    encoding_hint,
    find_all,
    first_invalid,
    recording_errors,
)
from ikou.extract.types import CHUNK_BYTES, REJECT_SCHEMA, Chunk, FileStats, unique_column_names
from ikou.i18n import tr
from ikou.mapping import Source

BOM = b"\xef\xbb\xbf"


class CsvExtractor:
    def __init__(self, path: Path, display_path: str, source: Source, chunk_bytes: int = CHUNK_BYTES):
        self.path = path
        self.display = display_path
        self.source = source
        self.codec = source.codec
        self.sep = ord(source.delimiter)
        self.quote = ord(source.quote)
        self.limits = RecordLimits(source.max_record_lines, source.max_record_bytes)
        self.chunk_bytes = chunk_bytes
        self.stats = FileStats(path=display_path)
        self.duplicate_columns: list[str] = []  # header names that occur more than once
        self._forbidden = FORBIDDEN_CHARS.get(source.encoding)

    # -- header (pre-flight) ------------------------------------------------------------------

    def read_header(self) -> list[str]:
        """Decode the metadata rows and header without reading the whole file.
        Raises IkouError for file-level problems (empty file, undecodable header, BOM mismatch)."""
        from ikou.filekinds import container_hint, sniff

        kind, what = sniff(self.path)
        if kind is not None:  # its bytes are no CSV: say what it is, not which encoding might fit
            raise IkouError(tr("{display}: not a CSV file: {what}", display=self.display, what=what), hint=container_hint(kind, what))
        need = self.source.skip_rows + (1 if self.source.header else 0)
        size = 64 * 1024
        with open(self.path, "rb") as fh:
            while True:  # read more until the header is complete (up to 64 MB)
                fh.seek(0)
                head = fh.read(size)
                eof = len(head) < size
                start = self._bom_offset(head)
                sc = self._scan(head, start, eof)
                if len(sc.starts) > need or eof or size >= 64 * 1024 * 1024:
                    break
                size *= 4
        starts, ends = sc.starts, sc.ends
        if len(starts) < need or (need and len(starts) == need and not eof):
            if eof:
                raise IkouError(tr("{display}: the file is empty or ends before its header (expected "
                                   "{skip_rows} metadata row(s) and a header)",
                                   display=self.display, skip_rows=self.source.skip_rows),
                                hint=tr("check the export, and skip_rows/header in the mapping"))
            raise IkouError(tr("{display}: no header found in the first {value} MB",
                               display=self.display, value=size >> 20),
                            hint=tr("check skip_rows, the quote character and the line ends"))
        if not self.source.header:
            n = int(sc.fields[need]) if len(starts) > need else 0
            self.stats.header = [str(i + 1) for i in range(n)]
            return self.stats.header
        raw = head[starts[need - 1]:ends[need - 1]]
        bad = first_invalid(raw, self.codec, self._forbidden)
        if bad is not None:
            raise IkouError(
                tr("{display}: the header (line {value}) is not valid {encoding}: byte 0x{value2:02X} at offset "
                   "{value3}",
                   display=self.display, value=int(sc.lines[need - 1]) + 1, encoding=self.source.encoding,
                   value2=raw[bad], value3=starts[need - 1] + bad),
                hint=encoding_hint(raw, self.source.encoding))
        text = raw.decode(self.codec)
        row = next(csv.reader(io.StringIO(text, newline=""), delimiter=self.source.delimiter,
                              quotechar=self.source.quote), [])
        self.stats.header, self.duplicate_columns = unique_column_names(
            [c.strip(" \u3000\t\r\n") for c in row])
        return self.stats.header

    def _bom_offset(self, head: bytes) -> int:
        if head.startswith(BOM):
            if self.source.encoding == "cp932":
                raise IkouError(tr("{display}: the file starts with a UTF-8 byte-order mark, but the mapping "
                                   "declares encoding cp932",
                                   display=self.display), hint=tr("set encoding: utf-8 for this source"))
            return len(BOM)
        return 0

    # -- records ------------------------------------------------------------------------------

    def _scan(self, buf: bytes, start: int, eof: bool) -> Scan:
        return scan(buf, start, eof, self.sep, self.quote, self.limits)

    def _field_count(self, rec: bytes) -> int:
        return int(self._scan(rec + b"\n", 0, True).fields[0]) if rec else 0

    def chunks(self) -> Iterator[Chunk]:
        """Stream the file's data records as chunks; fills ``self.stats`` as it goes."""
        header = self.stats.header or self.read_header()
        sha = hashlib.sha256()
        to_skip = self.source.skip_rows + (1 if self.source.header else 0) + self.source.skip_after_header
        line = 1  # physical line number at buf[0]
        base = 0  # file offset of buf[0]
        buf = b""
        first = True
        eof = False
        with open(self.path, "rb") as fh:
            while not eof:
                block = fh.read(self.chunk_bytes)
                sha.update(block)
                self.stats.size += len(block)
                eof = len(block) < self.chunk_bytes
                buf = buf + block if buf else block
                start = self._bom_offset(buf) if first else 0
                first = False
                sc = self._scan(buf, start, eof)
                if not len(sc.starts):
                    continue  # one record longer than the chunk: read on
                skip = min(to_skip, len(sc.starts))
                to_skip -= skip
                self.stats.skipped_rows += skip
                chunk = self._records(buf, base, sc, skip, line, len(header))
                line += buf.count(b"\n", 0, sc.tail)
                base += sc.tail
                buf = buf[sc.tail:]
                if chunk is not None:
                    yield chunk
                self._check_invalid_rate()
        self.stats.sha256 = sha.hexdigest()

    def _records(self, buf: bytes, base: int, sc: Scan, skip: int, line: int, n_fields: int) -> Chunk | None:
        starts, ends, lines, fields = sc.starts[skip:], sc.ends[skip:], sc.lines[skip:] + line, sc.fields[skip:]
        kinds = sc.kinds[skip:]
        # blank lines are not records; they stay in the index space (as not good) so that runs
        # of consecutive good records never span one
        blank = ends == starts
        self.stats.blank_records += int(blank.sum())
        if blank.all():
            return None
        self.stats.records += int((~blank).sum())
        bad: dict[int, tuple[str, str, str | None]] = {}
        for i in np.flatnonzero((fields != n_fields) & ~blank & (kinds != CUT)):
            bad[int(i)] = ("field_count", f"record has {fields[i]} fields, the header has {n_fields}", None)
        for i, reason in sc.cut_reasons.items():
            if i >= skip:
                bad[i - skip] = (reason, self._cut_message(reason), None)
        good = ~blank & (kinds == REGULAR)
        good[list(bad)] = False
        # records with a quote inside a field, read by the csv module (one by one: they are few)
        odd = [int(i) for i in np.flatnonzero(~blank & (kinds == IRREGULAR)) if int(i) not in bad]
        scanned = int(good.sum())
        data, cut = self._decode_good(buf, base, starts, ends, lines, good, bad)
        frame = self._parse(data)
        if frame.height != scanned:
            raise IkouError(tr("{display}: internal error: {scanned} records scanned but {height} parsed near "
                               "line {int}",
                               display=self.display, scanned=scanned, height=frame.height,
                               int=int(lines[0])), exit_code=ExitCode.INTERNAL)
        if cut:  # records with invalid bytes were parsed with the rest and leave here, as rejects
            keep = np.ones(scanned, dtype=bool)
            keep[cut] = False
            frame = frame.filter(pl.Series(keep))
        frame = frame.with_columns(
            pl.Series("_line", lines[good], dtype=pl.Int64),
            pl.Series("_offset", starts[good] + base, dtype=pl.Int64),
            pl.Series("_length", (ends - starts)[good], dtype=pl.Int64),
        )
        if odd:
            frame = pl.concat([frame, self._read_irregular(buf, base, starts, ends, lines, odd, bad)],
                              how="vertical").sort("_offset")
        rows = sorted(bad)
        rejects = pl.DataFrame({
            "_line": [int(lines[i]) for i in rows],
            "_offset": [int(starts[i]) + base for i in rows],
            "_length": [int(ends[i] - starts[i]) for i in rows],
            "reason_code": [bad[i][0] for i in rows],
            "item": [bad[i][2] for i in rows],
            "message": [bad[i][1] for i in rows],
            "raw_bytes": [buf[starts[i]:ends[i]] for i in rows],
        }, schema=REJECT_SCHEMA)
        self.stats.rejected += rejects.height
        self.stats.invalid_encoding += sum(1 for r in bad.values() if r[0] == "invalid_encoding")
        return Chunk(frame=frame, rejects=rejects)

    def _cut_message(self, reason: str) -> str:
        lim = self.limits
        if reason == "record_too_long":
            return (f"the record is longer than {lim.bytes:,} bytes (max_record_bytes): it ends at its first line "
                    "end, and reading goes on from the next line")
        return (f"a quoted field is not closed within {lim.lines} lines and {lim.bytes:,} bytes (max_record_lines, "
                "max_record_bytes): the record ends at its first line end, and reading goes on from the next line")

    def _read_irregular(self, buf: bytes, base: int, starts: np.ndarray, ends: np.ndarray, lines: np.ndarray,
                        odd: list[int], bad: dict[int, tuple[str, str, str | None]]) -> pl.DataFrame:
        """Rows of the records the csv module reads (a quote inside a field); a record with an
        invalid byte moves to ``bad``."""
        names = self.stats.header
        rows: list[list[str | None]] = []
        where: list[tuple[int, int, int]] = []
        for i in odd:
            rec = buf[starts[i]:ends[i]]
            at = first_invalid(rec, self.codec, self._forbidden)
            if at is not None:
                column = self._column_at(rec, at)
                bad[i] = ("invalid_encoding",
                          f"bytes {rec[at:at + 2].hex(' ').upper()} at byte offset {base + int(starts[i]) + at} "
                          f"are not valid {self.source.encoding}" + (f" (column {column})" if column else ""), column)
                continue
            values = [v.decode(self.codec) for v in read_fields(rec, self.source.delimiter, self.source.quote)]
            rows.append([v if v != "" else None for v in values])  # as polars reads an empty field: null
            where.append((int(lines[i]), int(starts[i]) + base, int(ends[i] - starts[i])))
        frame = pl.DataFrame(rows, schema={n: pl.String for n in names}, orient="row")
        return frame.with_columns(pl.Series("_line", [w[0] for w in where], dtype=pl.Int64),
                                  pl.Series("_offset", [w[1] for w in where], dtype=pl.Int64),
                                  pl.Series("_length", [w[2] for w in where], dtype=pl.Int64))

    @staticmethod
    def _runs(good: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """First and last index of each run of consecutive good records."""
        idx = np.flatnonzero(good)
        if not len(idx):
            return idx, idx
        breaks = np.flatnonzero(np.diff(idx) != 1)
        return np.concatenate(([idx[0]], idx[breaks + 1])), np.concatenate((idx[breaks], [idx[-1]]))

    def _good_bytes(self, buf: bytes, starts: np.ndarray, ends: np.ndarray, good: np.ndarray) -> bytes:
        """The good records, each run of consecutive ones copied as one slice, each run ending in LF."""
        parts: list[bytes] = []
        for f, l in zip(*self._runs(good)):
            parts += [buf[starts[f]:ends[l]], b"\n"]
        return b"".join(parts)

    def _locate(self, buf: bytes, starts: np.ndarray, ends: np.ndarray, lines: np.ndarray,
                good: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For the bytes ``_good_bytes`` builds: each good record's index, byte offset and number
        of line feeds before it."""
        idx = np.flatnonzero(good)
        firsts, lasts = self._runs(good)
        run_of = np.searchsorted(firsts, idx, side="right") - 1
        run_bytes = ends[lasts] - starts[firsts] + 1
        run_feeds = np.array([lines[l] - lines[f] + buf.count(b"\n", int(starts[l]), int(ends[l])) + 1
                              for f, l in zip(firsts, lasts)], dtype=np.int64)
        byte_base = np.concatenate(([0], np.cumsum(run_bytes)[:-1]))
        feed_base = np.concatenate(([0], np.cumsum(run_feeds)[:-1]))
        offsets = byte_base[run_of] + starts[idx] - starts[firsts[run_of]]
        feeds = feed_base[run_of] + lines[idx] - lines[firsts[run_of]]
        return idx, offsets, feeds

    def _decode_good(self, buf: bytes, base: int, starts: np.ndarray, ends: np.ndarray, lines: np.ndarray,
                     good: np.ndarray, bad: dict[int, tuple[str, str, str | None]]) -> tuple[bytes, list[int]]:
        """UTF-8 bytes of the good records, and the positions (among them) of those found to hold
        invalid bytes; these move from good to bad.

        One decode, with a handler that records where each error is and replaces the bad bytes
        only: the codecs never take a line feed, quote or separator into an error (they are
        ASCII, below every CP932 trail byte and never a UTF-8 continuation byte), so every record
        keeps its shape and can be parsed with the rest and dropped afterwards.
        """
        data = self._good_bytes(buf, starts, ends, good)
        positions: list[int] = []
        with recording_errors(positions):
            text = data.decode(self.codec, errors=RECORDING)
        forbidden = find_all(text, self._forbidden)
        out = data if self.codec == "utf-8" and not positions else text.encode("utf-8")
        if not positions and not forbidden:
            return out, []
        idx, offsets, feeds = self._locate(buf, starts, ends, lines, good)
        from_errors = {int(np.searchsorted(offsets, pos, side="right") - 1) for pos in positions}
        suspects = set(from_errors)
        feed_at: list[int] = []  # line feeds before each forbidden character, counted incrementally
        count, last = 0, 0
        for pos in forbidden:
            count += text.count("\n", last, pos)
            last = pos
            feed_at.append(count)
        suspects |= {int(np.searchsorted(feeds, f, side="right") - 1) for f in feed_at}
        cut: list[int] = []  # positions in idx of the records found bad
        for k in sorted(suspects):
            i = int(idx[k])
            rec = buf[starts[i]:ends[i]]
            at = first_invalid(rec, self.codec, self._forbidden)
            if at is None:
                continue
            good[i] = False
            cut.append(k)
            column = self._column_at(rec, at)
            bad[i] = ("invalid_encoding",
                      f"bytes {rec[at:at + 2].hex(' ').upper()} at byte offset {base + int(starts[i]) + at} "
                      f"are not valid {self.source.encoding}" + (f" (column {column})" if column else ""),
                      column)
        # every decode error and undefined byte must lie in a record found bad
        if not (from_errors | suspects) <= set(cut):
            raise IkouError(tr("{display}: internal error: an invalid byte escaped detection near line {int}",
                               display=self.display, int=int(lines[0])), exit_code=ExitCode.INTERNAL)
        return out, cut

    def _column_at(self, rec: bytes, pos: int) -> str | None:
        """The header name of the field that holds byte ``pos`` of a record."""
        idx = self._field_count(rec[:pos]) - 1 if pos else 0
        header = self.stats.header
        return header[idx] if 0 <= idx < len(header) else None

    def _parse(self, data: bytes) -> pl.DataFrame:
        names = self.stats.header
        if not data:
            return pl.DataFrame(schema={n: pl.String for n in names})
        return pl.read_csv(data, has_header=False, new_columns=names, infer_schema=False,
                           separator=self.source.delimiter, quote_char=self.source.quote, eol_char="\n",
                           raise_if_empty=False)

    def _check_invalid_rate(self) -> None:
        check_invalid_rate(self.stats, self.source, self.display, self.path)


def csv_module_rows(text: str, delimiter: str = ",", quote: str = '"') -> list[list[str]]:
    """The oracle tests hold the extractor to: Python's csv module, with a lone CR as data (as
    ikou reads it, docs/mapping.md; the csv module would end a record there)."""
    rows = csv.reader(io.StringIO(protect_lone_crs(text), newline=""), delimiter=delimiter, quotechar=quote,
                      strict=False)
    return [[c.replace(LONE_CR, "\r") for c in r] for r in rows]


def count_csv_records(text: str, delimiter: str = ",", quote: str = '"', skip_rows: int = 0,
                      header: bool = True) -> int:
    """Reference count with Python's csv module (used by tests): the non-blank records after the
    metadata rows and the header."""
    rows = csv_module_rows(text, delimiter, quote)
    return sum(1 for r in rows[skip_rows + (1 if header else 0):] if r)


codecs.lookup("cp932")  # fail at import, not mid-run, if the codec is missing

"""Fixed-width record extractor: byte offsets and lengths, record types, packed and zoned numbers,
trailer counts and hash totals (issue 3; the mapping declares the layout, docs/mapping.md).

Same interface as the CSV extractor: ``read_header`` returns the field names, ``chunks`` yields
string columns (numbers as exact decimal text) plus rejects, and ``stats`` counts records at
the byte level. ``_line`` is the 1-based record number (header and trailer records included),
``_offset`` the record's first byte.

Records are found by position (record i starts at i × (length + newline)), never by searching
for line feeds: a packed number may hold 0x0A or 0x0D. Where the expected newline is missing
(a short or long record) the extractor rejects the bytes up to the next line feed and goes on,
or, with ``short_records: pad``, fills a short record up with spaces (exporters that trim
trailing blanks) and counts it in ``padded_records``.
Text fields are decoded a whole column at a time (CP932/UTF-8 by Python's codec; EBCDIC, JEF
and KEIS by numpy lookup tables, ``ikou.codecs.mainframe.decode_column``); a double-byte
character cut by a field boundary, an unmapped byte and a bad number nibble each reject the
record with the byte offset.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl

import ikou.codecs  # noqa: F401  (registers the EBCDIC codecs)
from ikou.codecs.mainframe import SEPARATOR, decode_column, mainframe_codecs, single_byte_codec
from ikou.codecs.numeric import NUMBER_TYPES, decode_number
from ikou.errors import IkouError
from ikou.extract.decoding import (
    FORBIDDEN_CHARS,
    RECORDING,
    check_invalid_rate,
    find_all,
    first_invalid,
    recording_errors,
)
from ikou.extract.types import REJECT_SCHEMA, Chunk, FileStats
from ikou.i18n import tr
from ikou.mapping import FieldSpec, Source

ASCII_COMPATIBLE = {"cp932", "utf-8"}
NEWLINE_BYTES = {"crlf": b"\r\n", "lf": b"\n", "none": b""}
UNKNOWN, HEADER, DATA, TRAILER, OTHER = 0, 1, 2, 3, 4  # OTHER: a record type another source reads


class FixedExtractor:
    def __init__(self, path: Path, display_path: str, source: Source, chunk_bytes: int):
        if source.fixed is None:
            raise ValueError("a fixed-width source needs its record layout")
        self.path, self.display, self.source, self.fx = path, display_path, source, source.fixed
        self.codec = source.codec
        self.chunk_bytes = chunk_bytes
        self.stats = FileStats(path=display_path)
        self.duplicate_columns: list[str] = []
        self.newline = b""
        self._zone = 0x3 if self.codec in ASCII_COMPATIBLE else 0xF
        self._forbidden = FORBIDDEN_CHARS.get(source.encoding)
        self._codes: dict[bytes, int] = {}
        for kind, codes in ((HEADER, self.fx.header_codes), (DATA, self.fx.data_codes), (OTHER, self.fx.other_codes),
                            (TRAILER, (self.fx.trailer.code,) if self.fx.trailer else ())):
            for code in codes:
                self._codes[code.encode(self.codec)] = kind
        self.pad_short = self.fx.short_records == "pad"
        self._pad_byte = " ".encode(self.codec)[:1]
        self._data_seen = 0
        self._sum_seen = 0
        self._trailers: list[tuple[int | None, int | None, int]] = []  # (count, sum, record number)

    # -- header (pre-flight) ------------------------------------------------------------------

    def read_header(self) -> list[str]:
        size = self.path.stat().st_size
        if size == 0:
            raise IkouError(tr("{display}: the file is empty", display=self.display), hint=tr("check the export"))
        from ikou.filekinds import container_hint, sniff

        kind, what = sniff(self.path)
        if kind is not None:
            raise IkouError(tr("{display}: not a fixed-width record file: {what}", display=self.display, what=what), hint=container_hint(kind, what))
        length = self.fx.record_length
        with open(self.path, "rb") as fh:
            head = fh.read(length + 2)
        mode = self.fx.newline
        # where the first record ends: at record_length, or earlier when short records are padded
        end = length
        if self.pad_short:
            first_lf = head.find(b"\n")
            end = first_lf - (first_lf > 0 and head[first_lf - 1:first_lf] == b"\r") if first_lf != -1 else length
        if mode == "auto":
            tail = head[end:end + 2]
            mode = "crlf" if tail == b"\r\n" else "lf" if tail[:1] == b"\n" else "none"
        self.newline = NEWLINE_BYTES[mode]
        if mode != "none" and len(head) > end and head[end:end + len(self.newline)] != self.newline:
            shorter = " or fewer" if self.pad_short else ""
            raise IkouError(tr("{display}: the first record is not {length} bytes{shorter} followed by a "
                               "newline",
                               display=self.display, length=length, shorter=shorter),
                            hint=tr("check record_length and newline in the mapping"))
        self.stats.header = [f.name for f in self.fx.fields]
        return self.stats.header

    # -- records ------------------------------------------------------------------------------

    def chunks(self) -> Iterator[Chunk]:
        if not self.stats.header:
            self.read_header()
        stride = self.fx.record_length + len(self.newline)
        per_chunk = max(1, self.chunk_bytes // stride)
        sha = hashlib.sha256()
        record_no, base, buf = 0, 0, b""
        with open(self.path, "rb") as fh:
            eof = False
            while not eof:
                block = fh.read(per_chunk * stride)
                sha.update(block)
                self.stats.size += len(block)
                eof = len(block) < per_chunk * stride
                buf += block
                starts, lengths, good_len, consumed = self._split(buf, eof)
                chunk = self._records(buf, base, starts, lengths, good_len, record_no)
                record_no += len(starts)
                base += consumed
                buf = buf[consumed:]
                if chunk is not None:
                    yield chunk
                check_invalid_rate(self.stats, self.source, self.display, self.path)
        self.stats.sha256 = sha.hexdigest()
        self._check_trailer()

    def _split(self, buf: bytes, eof: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """Record starts and lengths in buf (content only), whether each has the right length,
        and how many bytes were consumed. Position first; a line feed search only to resync."""
        length, nl = self.fx.record_length, self.newline
        stride = length + len(nl)
        starts, lengths, ok = [], [], []
        pos, n = 0, len(buf)
        while pos < n:
            whole = (n - pos) // stride
            if nl:
                # all records at their expected places, up to the first misplaced newline
                view = np.frombuffer(buf, dtype=np.uint8, count=whole * stride, offset=pos).reshape(whole, stride) \
                    if whole else np.zeros((0, stride), np.uint8)
                tails = view[:, length:] if whole else view
                expected = np.frombuffer(nl, dtype=np.uint8)
                wrong = np.flatnonzero((tails != expected).any(axis=1)) if whole else np.zeros(0, int)
                good = int(wrong[0]) if len(wrong) else whole
            else:
                good = whole
            starts.append(pos + stride * np.arange(good))
            lengths.append(np.full(good, length))
            ok.append(np.ones(good, dtype=bool))
            pos += good * stride
            if pos >= n or (good == whole and not eof):
                break
            if good == whole and eof:
                # the rest of the file: a last record without its newline, or a short one
                rest = buf[pos:]
                content = rest[:-len(nl)] if nl and rest.endswith(nl) else rest
                starts.append(np.array([pos]))
                lengths.append(np.array([len(content)]))
                ok.append(np.array([len(content) == length or (self.pad_short and 0 < len(content) < length)]))
                pos = n
                break
            # a misplaced newline: the record runs to the next line feed, or the end of the data
            nxt = buf.find(b"\n", pos)
            if nxt == -1 and not eof:
                break  # read more before deciding
            end = n if nxt == -1 else nxt + 1
            content = buf[pos:end].rstrip(b"\n").rstrip(b"\r") if nl else buf[pos:end]
            starts.append(np.array([pos]))
            lengths.append(np.array([len(content)]))
            ok.append(np.array([self.pad_short and 0 < len(content) < length]))
            pos = end
        return (np.concatenate(starts) if starts else np.zeros(0, np.int64),
                np.concatenate(lengths) if lengths else np.zeros(0, np.int64),
                np.concatenate(ok) if ok else np.zeros(0, bool), pos)

    def _records(self, buf: bytes, base: int, starts: np.ndarray, lengths: np.ndarray, good_len: np.ndarray,
                 record_no: int) -> Chunk | None:
        if not len(starts):
            return None
        length = self.fx.record_length
        numbers = record_no + 1 + np.arange(len(starts))
        bad: dict[int, tuple[str, str, str | None]] = {}
        rt = self.fx.record_type
        data_codes = {c for c, kind in self._codes.items() if kind in (DATA, OTHER)}
        for i in np.flatnonzero(~good_len):
            bad[int(i)] = ("record_length", f"record is {int(lengths[i])} bytes, the layout says {length}", None)
            # the exporting system counted it as a data record if its type code says so
            code = buf[starts[i] + rt.offset:starts[i] + rt.offset + rt.length] if rt else None
            if rt is None or (lengths[i] >= rt.offset + rt.length and code in data_codes):
                self._data_seen += 1
        ok_idx = np.flatnonzero(good_len)
        matrix = self._matrix(buf, starts[ok_idx], lengths[ok_idx], length)
        self.stats.padded_records += int((lengths[ok_idx] < length).sum())
        kinds = self._kinds(matrix)
        for k in np.flatnonzero(kinds == UNKNOWN):
            i = int(ok_idx[k])
            code = bytes(matrix[k, self.fx.record_type.offset:self.fx.record_type.offset + self.fx.record_type.length])
            bad[i] = ("unknown_record_type", f"record type {code!r} is not a header, data, other or trailer code", None)
        for k in np.flatnonzero(kinds == TRAILER):
            self._read_trailer(matrix[k], int(numbers[ok_idx[k]]))
        skipped = int(((kinds == HEADER) | (kinds == TRAILER) | (kinds == OTHER)).sum())
        self.stats.skipped_rows += skipped
        self._data_seen += int((kinds == OTHER).sum())  # the exporter counted them among its data records
        data_k = np.flatnonzero(kinds == DATA)
        data_rows = matrix[data_k]
        self._data_seen += len(data_k)
        columns: dict[str, list | np.ndarray] = {}
        for f in self.fx.fields:
            values, bad_at, numbers_of_field = self._field(data_rows, f)
            columns[f.name] = values
            if self.fx.trailer is not None and f.name == self.fx.trailer.sum_of and numbers_of_field is not None:
                self._sum_seen += int(numbers_of_field.filter(pl.Series(bad_at < 0)).sum() or 0)
            for k in np.flatnonzero(bad_at >= 0):
                i = int(ok_idx[data_k[k]])
                if i in bad:
                    continue
                at = int(bad_at[k])
                text = f.type in ("text", "kanji")
                kind = "invalid_encoding" if text else "invalid_number"
                what = (f"bytes {bytes(data_rows[k, at:at + 2]).hex(' ').upper()} are not valid {self.source.encoding}"
                        if text else _bad_number(f, data_rows[k, f.offset:f.offset + f.length], at - f.offset))
                bad[i] = (kind, f"{what} at byte offset {base + int(starts[i]) + at} (field {f.name})", f.name)
        # source records: every record that is not a header or trailer
        self.stats.records += len(starts) - skipped
        is_bad = np.zeros(len(starts), dtype=bool)
        is_bad[list(bad)] = True
        keep = ~is_bad[ok_idx[data_k]]
        frame = pl.DataFrame({name: vals.filter(pl.Series(keep)) for name, vals in columns.items()})
        rows = ok_idx[data_k][keep]
        frame = frame.with_columns(pl.Series("_line", numbers[rows], dtype=pl.Int64),
                                   pl.Series("_offset", starts[rows] + base, dtype=pl.Int64),
                                   pl.Series("_length", lengths[rows], dtype=pl.Int64))
        order = sorted(bad)
        rejects = pl.DataFrame({
            "_line": [int(numbers[i]) for i in order], "_offset": [int(starts[i]) + base for i in order],
            "_length": [int(lengths[i]) for i in order], "reason_code": [bad[i][0] for i in order],
            "item": [bad[i][2] for i in order], "message": [bad[i][1] for i in order],
            "raw_bytes": [buf[starts[i]:starts[i] + lengths[i]] for i in order]}, schema=REJECT_SCHEMA)
        self.stats.rejected += rejects.height
        self.stats.invalid_encoding += sum(1 for r in bad.values() if r[0] == "invalid_encoding")
        return Chunk(frame=frame, rejects=rejects)

    def _matrix(self, buf: bytes, starts: np.ndarray, lengths: np.ndarray, length: int) -> np.ndarray:
        """The records as an (n, length) byte matrix: a strided view when they are evenly spaced;
        short records (``short_records: pad``) filled up with the encoding's space."""
        n = len(starts)
        if not n:
            return np.zeros((0, length), np.uint8)
        stride = length + len(self.newline)
        raw = np.frombuffer(buf, dtype=np.uint8)
        if (lengths < length).any():
            cols = np.arange(length)[None, :]
            matrix = raw[np.minimum(starts[:, None] + cols, len(raw) - 1)]
            matrix[cols >= lengths[:, None]] = self._pad_byte[0]
            return matrix
        first = int(starts[0])
        if int(starts[-1]) - first == stride * (n - 1) and first + stride * n <= len(raw) + len(self.newline):
            view = raw[first:first + stride * n - len(self.newline)]
            view = np.concatenate([view, np.zeros(len(self.newline), np.uint8)]) if self.newline else view
            return view.reshape(n, stride)[:, :length]
        return raw[starts[:, None] + np.arange(length)[None, :]]

    def _kinds(self, matrix: np.ndarray) -> np.ndarray:
        kinds = np.full(len(matrix), DATA if self.fx.record_type is None else UNKNOWN, dtype=np.int8)
        rt = self.fx.record_type
        if rt is None or not len(matrix):
            return kinds
        codes = matrix[:, rt.offset:rt.offset + rt.length]
        for code, kind in self._codes.items():
            kinds[(codes == np.frombuffer(code, dtype=np.uint8)).all(axis=1)] = kind
        return kinds

    # -- fields -----------------------------------------------------------------------------------

    def _field(self, rows: np.ndarray, f: FieldSpec) -> tuple[pl.Series, np.ndarray, pl.Series | None]:
        """One field of every data record: the values as text, the first bad byte (or -1), and
        the unscaled integers of an integer field (None for text and floats)."""
        block = rows[:, f.offset:f.offset + f.length]
        if f.type in NUMBER_TYPES:
            values, bad = decode_number(block, f, self._zone)
            bad = np.where(bad >= 0, bad + f.offset, -1)
            if f.type == "float":
                return _float_text(f.name, values, bad), bad, None
            numbers = values if isinstance(values, pl.Series) else pl.Series(f.name, values)
            return _number_text(f.name, numbers, bad, f.scale), bad, numbers
        text, bad = self._text(block, f)
        return text, bad, None

    def _decode(self, raw: bytes, f: FieldSpec) -> tuple[str | None, int | None]:
        """One value: its text, or the offset of its first bad byte."""
        if f.type == "kanji":
            codec = mainframe_codecs().get(self.codec)
            if codec is None or not codec.dbcs:
                return None, 0  # the mapping check refuses kanji fields without a double-byte set
            try:
                return codec.decode_double(raw)[0], None
            except UnicodeDecodeError as exc:
                return None, exc.start
        if self.codec in ASCII_COMPATIBLE:
            at = first_invalid(raw, self.codec, self._forbidden)
            return (None, at) if at is not None else (raw.decode(self.codec), None)
        try:
            return raw.decode(self.codec), None
        except UnicodeDecodeError as exc:
            return None, exc.start

    def _text(self, block: np.ndarray, f: FieldSpec) -> tuple[pl.Series, np.ndarray]:
        if f.type == "kanji" and self.codec == "cp932":
            return self._cp932_kanji(block, f)
        n = len(block)
        bad_at = np.full(n, -1, dtype=np.int64)
        if self.codec in ASCII_COMPATIBLE and n and f.type == "text":
            # the whole column in one decode, each value followed by a line feed; an error at
            # byte p belongs to value p // (width + 1), at offset p % (width + 1)
            width = f.length + 1
            data = np.hstack([block, np.full((n, 1), 0x0A, np.uint8)]).tobytes()
            positions: list[int] = []
            with recording_errors(positions):
                text = data.decode(self.codec, errors=RECORDING)
            # split in polars (no Python string per value): n values and the empty tail
            parts = pl.Series(f.name, [text], dtype=pl.String).str.split("\n").explode()
            if len(parts) == n + 1:  # (a line feed inside a value: record by record below)
                parts = parts.head(n)
                for p in positions:
                    k = p // width
                    if bad_at[k] < 0:
                        bad_at[k] = f.offset + p % width
                count, last = 0, 0
                for p in find_all(text, self._forbidden):  # undefined CP932 bytes the codec let through
                    count += text.count("\n", last, p)
                    last = p
                    if bad_at[count] < 0:
                        _, at = self._decode(block[count].tobytes(), f)
                        bad_at[count] = f.offset + (at or 0)
                bad = np.flatnonzero(bad_at >= 0)
                if len(bad):
                    parts = parts.scatter(bad, None)
                return _padded_series(parts, f.pad), bad_at
        codec = mainframe_codecs().get(self.codec)
        if codec is None and self.codec not in ASCII_COMPATIBLE and f.type == "text":
            codec = single_byte_codec(self.codec)
        if n and codec is not None and (f.type == "text" or codec.dbcs):
            # EBCDIC, JEF, KEIS: the whole column at once in numpy, then split in polars
            text, first = decode_column(codec, block, double_only=f.type == "kanji")
            parts = pl.Series(f.name, [text], dtype=pl.String).str.split(SEPARATOR).explode()
            if len(parts) == n + 1:
                parts = parts.head(n)
                bad = np.flatnonzero(first >= 0)
                bad_at[bad] = f.offset + first[bad]
                if len(bad):
                    parts = parts.scatter(bad, None)
                return _padded_series(parts, f.pad + ("\u3000" if f.type == "kanji" else "")), bad_at
        values: list[str | None] = []
        for k in range(n):  # a column with an error (or a value holding the separator): record by record
            value, at = self._decode(block[k].tobytes(), f)
            if at is not None:
                bad_at[k] = f.offset + at
            values.append(value)
        pad = f.pad + ("\u3000" if f.type == "kanji" else "")  # double-byte fields pad with 4040
        return _padded(f.name, values, pad), bad_at

    def _cp932_kanji(self, block: np.ndarray, f: FieldSpec) -> tuple[pl.Series, np.ndarray]:
        """PIC N in a CP932 file: every character two bytes (lead 81–9F or E0–FC, trail 40–7E or
        80–FC), read as text, padded with full-width spaces (81 40) or blanks."""
        lead, trail = block[:, 0::2], block[:, 1::2]
        bad = ~(((lead >= 0x81) & (lead <= 0x9F)) | ((lead >= 0xE0) & (lead <= 0xFC)))
        bad |= ~(((trail >= 0x40) & (trail <= 0x7E)) | ((trail >= 0x80) & (trail <= 0xFC)))
        both_blank = (lead == 0x20) & (trail == 0x20)  # a blank-padded tail: two ASCII spaces per character
        bad &= ~both_blank
        pair = np.where(bad.any(axis=1), bad.argmax(axis=1), -1)
        text, bad_at = self._text(block, replace(f, type="text", pad=f.pad + "\u3000"))
        single = (pair >= 0) & (bad_at < 0)
        bad_at[single] = f.offset + 2 * pair[single]
        if single.any():
            text = text.scatter(np.flatnonzero(single), None)
        return text, bad_at

    # -- trailer ----------------------------------------------------------------------------------

    def _read_trailer(self, record: np.ndarray, number: int) -> None:
        t = self.fx.trailer
        count = total = None
        for spec, target in ((t.count, "count"), (t.sum, "sum")):
            if spec is None:
                continue
            block = record[None, spec.offset:spec.offset + spec.length]
            if spec.type in NUMBER_TYPES:
                vals, bad = decode_number(block, spec, self._zone)
            else:
                text = block.tobytes().decode(self.codec, "replace").strip()
                vals, bad = (np.array([int(text)]), np.array([-1])) if text.lstrip("-").isdigit() else (
                    np.array([0]), np.array([0]))
            value = None if bad[0] >= 0 else int(vals[0])
            if target == "count":
                count = value
            else:
                total = value
        self._trailers.append((count, total, number))

    def _check_trailer(self) -> None:
        t = self.fx.trailer
        if t is None:
            return
        findings = self.stats.findings
        if not self._trailers:
            findings.append(f"{self.display}: no trailer record (type {t.code!r}) found")
            return
        if len(self._trailers) > 1:
            findings.append(f"{self.display}: {len(self._trailers)} trailer records (records "
                            f"{', '.join(str(n) for *_, n in self._trailers)})")
        count, total, number = self._trailers[-1]
        if t.count is not None:
            if count is None:
                findings.append(f"{self.display}: the trailer's record count (record {number}) is not a number")
            elif count != self._data_seen:
                findings.append(f"{self.display}: the trailer says {count} data records, the file has "
                                f"{self._data_seen}")
        if t.sum is not None:
            if total is None:
                findings.append(f"{self.display}: the trailer's hash total (record {number}) is not a number")
            elif total != self._sum_seen:
                findings.append(f"{self.display}: the trailer's hash total of {t.sum_of} is {total}, the data "
                                f"records add up to {self._sum_seen}")


def _padded(name: str, values: list[str | None], pad: str) -> pl.Series:
    """Text values without their trailing padding; all padding is null."""
    return _padded_series(pl.Series(name, values, dtype=pl.String), pad)


def _padded_series(series: pl.Series, pad: str) -> pl.Series:
    stripped = series.str.strip_chars_end(pad)
    return pl.select(pl.when(stripped != "").then(stripped).alias(series.name)).to_series()


def _bad_number(f: FieldSpec, raw: np.ndarray, at: int) -> str:
    """Why a number field's bytes are not a value, for its reject."""
    if f.type == "float":
        return f"bytes {bytes(raw).hex(' ').upper()} are not a finite {f.length * 8}-bit float"
    if f.type in ("binary", "native_binary"):
        return f"bytes {bytes(raw).hex(' ').upper()} exceed an unsigned value of 18 digits"
    return f"byte {raw[at]:02X} is not a valid {f.type} nibble"


def _number_text(name: str, values: pl.Series, bad: np.ndarray, scale: int) -> pl.Series:
    """Exact decimal text of scaled integers (never through a float); null where bad. A negative
    scale (COBOL's P: PIC 9(3)PP) appends zeros: the stored 123 is 12300."""
    frame = pl.DataFrame({"v": values, "bad": bad >= 0})
    mag = pl.col("v").abs().cast(pl.String).str.zfill(scale + 1)
    sign = pl.when(pl.col("v") < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    if scale > 0:
        text = pl.concat_str([sign, mag.str.slice(0, mag.str.len_chars() - scale), pl.lit("."), mag.str.slice(-scale)])
    elif scale < 0:
        text = pl.when(pl.col("v") == 0).then(pl.lit("0")).otherwise(
            pl.concat_str([pl.col("v").cast(pl.String), pl.lit("0" * -scale)]))
    else:
        text = pl.col("v").cast(pl.String)
    return frame.select(pl.when(~pl.col("bad")).then(text).alias(name)).to_series()


def _float_text(name: str, values: np.ndarray, bad: np.ndarray) -> pl.Series:
    """A float's shortest text that reads back as the same double (a COMP-1 value widened
    exactly first, so its text is the single's exact value as a double); null where bad."""
    frame = pl.DataFrame({"v": values, "bad": bad >= 0})
    return frame.select(pl.when(~pl.col("bad")).then(pl.col("v").cast(pl.String)).alias(name)).to_series()

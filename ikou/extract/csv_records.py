"""Where the records of a CSV buffer begin and end, as Python's csv module and Excel read them
(RFC 4180): a quote opens a quoted field only at the start of a field; a quote anywhere else is
data (a stray inch mark, a typo: ``,J",``); inside a quoted field ``""`` is one quote, and the
field closes at a quote followed by a separator or a line end.

Fast and exact at once: the quote, separator and line-feed bytes are found with numpy, and quotes
are paired by parity (even: opens, odd: closes), which is exact as long as every opening quote
stands at a field start and every closing one before a separator, a line end or an escaped quote.
The first quote that does not is where the parity reading ends: the record holding it is read by
Python's csv module itself (only that record: ``IRREGULAR``), and the parity reading starts again
after it. One bad byte costs one record, never the rest of the file.

Records are bounded (``RecordLimits``: lines and bytes, the mapping's ``max_record_lines`` and
``max_record_bytes``): a quoted field that does not close within them, or a record longer than
them, ends at its first line end and becomes a reject (``CUT``); reading goes on from the next line.

Line ends: a record ends at LF (CR LF: the CR is dropped); a lone CR is data, as in a field's
text (``newline: auto``, ``lf`` or ``crlf``). In CP932 and UTF-8 the quote, separator, CR and LF
bytes never occur inside a multi-byte character, so this is safe for the encodings ikou accepts
for CSV.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field

import numpy as np

REGULAR, IRREGULAR, CUT = 0, 1, 2
LF, CR = 0x0A, 0x0D
FEW_QUOTED_FIELDS = 20_000
LONE_CR = "\ue000"  # stands for a lone CR while the csv module reads a record (it would end the row)


@dataclass(frozen=True)
class RecordLimits:
    """How far one record may reach: a quoted field still open after ``lines`` lines or ``bytes``
    bytes is taken as never closed (its record ends at its first line end, as a reject)."""
    lines: int = 20
    bytes: int = 64 * 1024


@dataclass
class Scan:
    starts: np.ndarray  # record starts (offsets in buf)
    ends: np.ndarray  # content ends, CR LF excluded
    lines: np.ndarray  # line feeds between buf[start] and each record start
    fields: np.ndarray  # fields per record
    kinds: np.ndarray  # REGULAR, IRREGULAR (read by the csv module) or CUT (a reject)
    tail: int  # where the unfinished rest of buf begins
    cut_reasons: dict[int, str] = field(default_factory=dict)  # record index -> reason code


def scan(buf: bytes, start: int, eof: bool, sep: int, quote: int, limits: RecordLimits) -> Scan:
    """Find the records of buf[start:]; buf[start] begins a record. Without ``eof`` the rest
    after the last complete record is left (``tail``) for the next read."""
    a = np.frombuffer(buf, dtype=np.uint8)[start:]
    n = len(a)
    q = np.flatnonzero(a == quote)
    nl = np.flatnonzero(a == LF)
    quotes_before_nl = np.searchsorted(q, nl)
    bad_from = _misplaced_quotes(a, q, sep, quote)
    is_sep = None
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, int]] = []  # (starts, ends, fields, kind)
    cut_at: dict[int, str] = {}  # record start -> reason

    def emit(starts: np.ndarray, ends: np.ndarray, fields: np.ndarray, kind: int) -> None:
        if len(starts):
            parts.append((starts, ends, fields, kind))

    def one(s: int, e: int, fields: int, kind: int, reason: str | None = None) -> None:
        emit(np.array([s], dtype=np.int64), np.array([e], dtype=np.int64), np.array([fields], dtype=np.int64), kind)
        if reason is not None:
            cut_at[s] = reason

    def first_line_end(s: int) -> int:
        k = int(np.searchsorted(nl, s))
        return int(nl[k]) if k < len(nl) else n

    pos, tail = 0, n
    while pos < n:
        j0 = int(np.searchsorted(q, pos))
        misplaced = bad_from[j0 & 1]
        k = int(np.searchsorted(misplaced, j0))
        stop = int(q[misplaced[k]]) if k < len(misplaced) else n
        lo, hi = int(np.searchsorted(nl, pos)), int(np.searchsorted(nl, stop))
        ends = nl[lo:hi][((quotes_before_nl[lo:hi] - j0) & 1) == 0]
        starts = np.concatenate(([pos], ends[:-1] + 1)).astype(np.int64) if len(ends) else ends
        inner = np.searchsorted(nl, ends) - np.searchsorted(nl, starts)  # line feeds inside each record
        long = np.flatnonzero((inner >= limits.lines) | (ends - starts > limits.bytes))
        if len(long):  # a record over the limits ends at its first line end, as a reject
            i = int(long[0])
            if is_sep is None:
                is_sep = _separators(a, sep)
            emit(starts[:i], ends[:i], _regular_fields(buf, start, is_sep, q, starts[:i], ends[:i], sep), REGULAR)
            s = int(starts[i])
            e = first_line_end(s)
            one(s, e, 0, CUT, "unterminated_quote" if inner[i] else "record_too_long")
            pos = e + 1
            continue
        if len(starts):
            if is_sep is None:
                is_sep = _separators(a, sep)
            emit(starts, ends, _regular_fields(buf, start, is_sep, q, starts, ends, sep), REGULAR)
        rs = int(ends[-1]) + 1 if len(ends) else pos
        if rs >= n:
            pos = n
            break
        if stop < n:  # a misplaced quote in the record at rs: the csv module reads that record
            got = _read_one(buf, start, rs, nl, n, eof, sep, quote, limits)
            if got is None:  # its end lies beyond the buffer
                tail = rs
                break
            e, fields, reason = got
            if reason is not None:
                e = first_line_end(rs)
                one(rs, e, 0, CUT, reason)
            else:
                one(rs, e, fields, IRREGULAR)
            pos = e + 1
            continue
        # the rest has no record end: the last record, or one still being read
        open_quote = bool((len(q) - int(np.searchsorted(q, rs))) & 1)
        inside = int(np.searchsorted(nl, n) - np.searchsorted(nl, rs))
        over = inside >= limits.lines or n - rs > limits.bytes
        if eof or (over and inside):
            if open_quote or over:
                e = first_line_end(rs)
                one(rs, e, 0, CUT, "unterminated_quote" if open_quote else "record_too_long")
                pos = e + 1
                continue
            if is_sep is None:
                is_sep = _separators(a, sep)
            emit(np.array([rs]), np.array([n]), _regular_fields(buf, start, is_sep, q, np.array([rs]),
                                                                np.array([n]), sep), REGULAR)
            pos = n
            break
        tail = rs
        break
    else:
        tail = n
    if parts:
        starts = np.concatenate([p[0] for p in parts]).astype(np.int64)
        ends = np.concatenate([p[1] for p in parts]).astype(np.int64)
        fields = np.concatenate([p[2] for p in parts]).astype(np.int64)
        kinds = np.concatenate([np.full(len(p[0]), p[3], dtype=np.int8) for p in parts])
    else:
        starts = ends = fields = np.zeros(0, dtype=np.int64)
        kinds = np.zeros(0, dtype=np.int8)
    if len(ends):  # drop the CR of CR LF
        ends = ends - ((ends > starts) & (a[np.clip(ends - 1, 0, max(n - 1, 0))] == CR))
        # a lone CR is data, which polars reads as data in some places and as a line end in others
        # (CR CR LF, a CR at a line start): the csv module reads the records holding one
        cr = np.flatnonzero(a == CR)
        if len(cr):
            lone = cr[(cr + 1 >= n) | (a[np.minimum(cr + 1, n - 1)] != LF)]
            holder = np.searchsorted(starts, lone, side="right") - 1
            holder = holder[(holder >= 0) & (lone < ends[np.maximum(holder, 0)])]
            regular = kinds[holder] == REGULAR
            kinds[holder[regular]] = IRREGULAR
    lines = np.searchsorted(nl, starts)
    reasons = {}
    if cut_at:
        index = {int(s): i for i, s in enumerate(starts.tolist()) if kinds[i] == CUT}
        reasons = {index[s]: r for s, r in cut_at.items()}
    return Scan(starts + start, ends + start, lines, fields, kinds, tail + start, reasons)


def _misplaced_quotes(a: np.ndarray, q: np.ndarray, sep: int, quote: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (into q) of the quotes the parity reading would misread, for a reading that starts
    at an even quote index and for one that starts at an odd one. An opening quote must stand at
    a field start (or right after a closing quote: ``""`` inside a quoted field); a closing quote
    before a separator, a line end or another quote."""
    if not len(q):
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    n = len(a)
    prev = np.where(q > 0, a[np.maximum(q - 1, 0)], LF)
    nxt = np.where(q + 1 < n, a[np.minimum(q + 1, n - 1)], LF)  # the buffer's end reads as a line end
    nxt2 = np.where(q + 2 < n, a[np.minimum(q + 2, n - 1)], LF)
    open_ok = (prev == sep) | (prev == LF) | (prev == quote)
    close_ok = (nxt == sep) | (nxt == LF) | (nxt == quote) | ((nxt == CR) & (nxt2 == LF))
    even = (np.arange(len(q)) & 1) == 0
    return (np.flatnonzero(np.where(even, ~open_ok, ~close_ok)),
            np.flatnonzero(np.where(even, ~close_ok, ~open_ok)))


def _separators(a: np.ndarray, sep: int) -> np.ndarray:
    is_sep = np.zeros(len(a) + 1, dtype=np.uint8)  # one trailing 0: a record ending at EOF is a valid segment end
    np.equal(a, sep, out=is_sep[:-1].view(bool))
    return is_sep


def _regular_fields(buf: bytes, start: int, is_sep: np.ndarray, q: np.ndarray, starts: np.ndarray,
                    ends: np.ndarray, sep: int) -> np.ndarray:
    """Fields per record of records whose quotes pair by parity, each record starting outside
    quotes: separators in the record + 1, minus those inside quoted fields."""
    if not len(starts):
        return np.zeros(0, dtype=np.int64)
    fields = segment_sums(is_sep, starts, ends) + 1
    lo, hi = int(np.searchsorted(q, starts[0])), int(np.searchsorted(q, ends[-1]))
    qs = q[lo:hi]
    if not len(qs):
        return fields
    opens, closes = qs[0::2], qs[1::2]
    if len(closes) < len(opens):  # the last record at EOF whose quote never closed (a reject anyway)
        closes = np.append(closes, ends[-1])
    if len(opens) < FEW_QUOTED_FIELDS:  # counting in each is cheaper than a pass over the chunk
        sep_byte = bytes([sep])
        inside = np.array([buf.count(sep_byte, start + o, start + c) for o, c in zip(opens.tolist(), closes.tolist())],
                          dtype=np.int64)
    else:
        inside = segment_sums(is_sep, opens, closes)
    owner = np.searchsorted(starts, opens, side="right") - 1
    return fields - np.bincount(owner, weights=inside, minlength=len(starts)).astype(fields.dtype)


def _read_one(buf: bytes, start: int, rs: int, nl: np.ndarray, n: int, eof: bool, sep: int, quote: int,
              limits: RecordLimits) -> tuple[int, int, str | None] | None:
    """The record at rs read by Python's csv module: (end, fields, None), or (_, 0, reason) when
    it does not end within the limits, or None when its end lies beyond the buffer."""
    k = int(np.searchsorted(nl, rs))
    state = {"wanted_more": False, "limited": False, "given": 0, "bytes": 0}

    def lines():
        s, j = rs, k
        while True:
            if state["given"] >= limits.lines:
                state["limited"] = True
                return
            if j >= len(nl) and not eof:
                return  # a line still being read: the record's end is not known yet
            e = int(nl[j]) + 1 if j < len(nl) else n
            if e <= s:
                return
            if state["bytes"] + (e - s) > limits.bytes:
                state["limited"] = True
                return
            state["given"] += 1
            state["bytes"] += e - s
            yield _structure_text(buf[start + s:start + e])
            s, j = e, j + 1

    def counted():
        yield from lines()
        state["wanted_more"] = True

    reader = csv.reader(counted(), delimiter=chr(sep), quotechar=chr(quote), strict=False)
    row = next(reader, None)
    if state["wanted_more"]:  # the data given ended inside a quoted field
        if state["limited"]:
            return rs, 0, "unterminated_quote" if state["given"] else "record_too_long"
        return (rs, 0, "unterminated_quote") if eof else None
    if row is None:
        return None
    end = rs + state["bytes"]
    return (end - 1 if end <= n and buf[start + end - 1] == LF else end), len(row), None


def _structure_text(raw: bytes) -> str:
    """A line's bytes as text for finding fields only (latin-1: one character per byte, so that
    no multi-byte character or invalid byte can move a quote or separator); a lone CR kept as data."""
    return protect_lone_crs(raw.decode("latin-1"))


def protect_lone_crs(text: str) -> str:
    """Each CR not followed by LF as ``LONE_CR``: data to ikou, a record end to the csv module."""
    return _LONE_CR.sub(LONE_CR, text) if "\r" in text else text


_LONE_CR = re.compile("\r(?!\n)")


def read_fields(raw: bytes, sep: str, quote: str) -> list[bytes]:
    """The fields of one record's bytes (CR LF excluded), as the csv module reads them: each
    field's own bytes (quotes and escapes removed), to be decoded in the file's encoding."""
    text = raw.decode("latin-1").replace("\r", LONE_CR)
    lines = [line + "\n" for line in text.split("\n")]  # only LF ends a line (not NEL or the other breaks)
    row = next(csv.reader(lines, delimiter=sep, quotechar=quote, strict=False), [])
    return [f.replace(LONE_CR, "\r").encode("latin-1") for f in row]


def segment_sums(mask: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """sum(mask[s:e]) for each segment, vectorised; segments ascending and not overlapping,
    every end < len(mask)."""
    if not len(starts):
        return np.zeros(0, dtype=np.int64)
    bounds = np.empty(2 * len(starts), dtype=np.int64)
    bounds[0::2], bounds[1::2] = starts, ends
    sums = np.add.reduceat(mask, bounds, dtype=np.int32)[0::2].astype(np.int64)
    sums[starts == ends] = 0  # reduceat gives mask[s] for an empty segment
    return sums

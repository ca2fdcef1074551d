"""Decoding shared by the byte-level extractors (CSV and fixed-width): where a chunk's invalid
bytes are, without decoding it twice, and what to tell a person whose declared encoding is wrong.

Python's ``cp932`` codec maps the undefined single bytes 0x80, 0xA0 and 0xFD-0xFF to U+0080 and
U+F8F0-U+F8F3 instead of failing: ``FORBIDDEN_CHARS`` lists them, and ikou treats them as
invalid bytes.
"""

from __future__ import annotations

import codecs
import os
from pathlib import Path

from ikou.errors import IkouError
from ikou.extract.types import FileStats
from ikou.i18n import tr
from ikou.mapping import Source

TRANSCODE_CHUNK = 16 * 1024 * 1024


def transcode(src: Path, encoding: str, dest: Path | None, hint: str) -> None:
    """Decode ``src`` to UTF-8 in chunks (to ``dest``, or only to check it when None), for a
    reader that takes UTF-8 only (DuckDB's CSV reader: `ikou diff`, `ikou verify-handover`); an
    undecodable byte stops with its offset, never replaced (what is compared is what was written)."""
    try:
        decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    except LookupError as exc:
        raise IkouError(tr("unknown encoding {encoding!r}", encoding=encoding), hint=tr("cp932, utf-8 or utf-8-sig")) from exc
    if dest is not None:
        dest.parent.mkdir(parents=True, exist_ok=True)
    offset = 0
    with src.open("rb") as f, (dest.open("w", encoding="utf-8", newline="") if dest else open(os.devnull, "w")) as out:
        while True:
            block = f.read(TRANSCODE_CHUNK)
            try:
                text = decoder.decode(block, final=not block)
                if dest is not None:
                    out.write(text)
            except UnicodeDecodeError as exc:
                raise IkouError(tr("{src}: bytes {upper} at byte offset {value} are not valid {encoding}",
                                   src=src, upper=exc.object[exc.start:exc.start + 2].hex(' ').upper(),
                                   value=offset + exc.start, encoding=encoding), hint=hint) from exc
            if not block:
                break
            offset += len(block)


# characters Python's cp932 codec "decodes" from bytes that CP932 does not define
FORBIDDEN_CHARS = {"cp932": "\u0080\uf8f0\uf8f1\uf8f2\uf8f3"}


def find_all(text: str, chars: str | None) -> list[int]:
    """Positions of any of ``chars`` in text (str.find per character: far faster than a regex
    character class over a long UCS-2 string)."""
    out: list[int] = []
    for ch in chars or "":
        pos = text.find(ch)
        while pos != -1:
            out.append(pos)
            pos = text.find(ch, pos + 1)
    return sorted(out)


RECORDING = "ikou.record-positions"
_positions: list[list[int]] = []


def _record_error(exc: UnicodeError) -> tuple[str, int]:
    _positions[-1].append(exc.start)
    return "\ufffd", exc.end


codecs.register_error(RECORDING, _record_error)


class recording_errors:
    """Collect the byte positions of decode errors into ``positions`` (not thread-safe)."""

    def __init__(self, positions: list[int]):
        self.positions = positions

    def __enter__(self) -> None:
        _positions.append(self.positions)

    def __exit__(self, *exc: object) -> None:
        _positions.pop()


def first_invalid(rec: bytes, codec: str, forbidden: str | None) -> int | None:
    """Byte position of the first invalid byte of one record, or None."""
    try:
        text = rec.decode(codec)
    except UnicodeDecodeError as exc:
        return exc.start
    found = find_all(text, forbidden)
    return len(text[:found[0]].encode(codec)) if found else None


def encoding_hint(sample: bytes | None, declared: str, path: Path | None = None) -> str:
    if sample is None and path is not None:
        with open(path, "rb") as fh:
            sample = fh.read(1 << 20)
    sample = sample or b""
    for candidate in ("utf-8", "cp932"):
        if candidate == declared:
            continue
        try:
            sample.decode(candidate)
        except UnicodeDecodeError as exc:
            if exc.start < len(sample) - 4:  # a failure only at the cut end of the sample is fine
                continue
        return tr("the bytes decode cleanly as {candidate}: set encoding: {candidate} in the mapping",
                  candidate=candidate)
    return tr("check the export's encoding with the vendor; ikou reads cp932, utf-8 and utf-8-sig")


def check_invalid_rate(st: FileStats, source: Source, display: str, path: Path) -> None:
    """Most records undecodable means the declared encoding is wrong: a file-level error."""
    if st.invalid_encoding >= 5 and st.invalid_encoding > source.max_invalid_rate * st.records:
        raise IkouError(
            tr("{display}: {invalid_encoding} of the first {records} records are not valid {encoding}: the "
               "declared encoding is probably wrong; nothing was written",
               display=display, invalid_encoding=st.invalid_encoding, records=st.records, encoding=source.encoding),
            hint=encoding_hint(None, source.encoding, path))

"""COBOL copybooks (コピー句) read into the byte layout of a fixed-width source.

Vendors hand over the record description, not a byte table: ``parse_copybook`` reads the data
description entries of a copybook (fixed or free source format) and computes every elementary
item's offset and length the way the compiler lays the record out, so nobody counts bytes by hand:

* level numbers 01–49 and 77 (a copybook that starts below 01 is one record named after the file);
  88 condition names are skipped; 66 RENAMES and SYNCHRONIZED (slack bytes are the compiler's
  choice) are refused, as is OCCURS DEPENDING ON (records of varying length).
* PIC / PICTURE with repeats (``X(10)``, ``S9(7)V99``), ``P`` scaling, PIC N (2 bytes a
  character); edited pictures (``ZZ,ZZ9``, ``-9(15)``) are read as text.
* USAGE (on the item or inherited from its group): DISPLAY → zoned or text, COMP-3 /
  PACKED-DECIMAL → packed, COMP / BINARY / COMP-4 → binary (big-endian), COMP-5 → native_binary,
  COMP-1 / COMP-2 → float; binary sizes by digits (1–4: 2 bytes, 5–9: 4, 10–18: 8).
* SIGN LEADING / TRAILING [SEPARATE] (on the item or its group).
* OCCURS n: each occurrence's fields suffixed ``-1``, ``-2`` … (nested: ``-1-2``).
* REDEFINES: a record *view* per 01 record and per redefining item (the redefinition replaces
  the item it redefines; every other redefinition keeps its original): the record types of a
  file written through one record area.
* FILLER: a field named ``FILLER-<offset>``, declared dropped (it holds no data).

Kept parsers on PyPI were tried first (docs/copybooks.md says which and why not).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ikou.errors import IkouError
from ikou.i18n import tr

USAGES = {"DISPLAY": "display", "COMP": "binary", "COMPUTATIONAL": "binary", "BINARY": "binary",
          "COMP-4": "binary", "COMPUTATIONAL-4": "binary", "COMP-5": "native_binary",
          "COMPUTATIONAL-5": "native_binary", "COMP-3": "packed", "COMPUTATIONAL-3": "packed",
          "PACKED-DECIMAL": "packed", "COMP-1": "float4", "COMPUTATIONAL-1": "float4", "COMP-2": "float8",
          "COMPUTATIONAL-2": "float8", "DISPLAY-1": "display", "NATIONAL": "display"}
UNREAD_USAGES = {"COMP-6", "COMPUTATIONAL-6", "COMP-X", "COMPUTATIONAL-X", "INDEX", "POINTER", "PROCEDURE-POINTER",
                 "FUNCTION-POINTER", "COMP-N", "BINARY-CHAR", "BINARY-SHORT", "BINARY-LONG", "BINARY-DOUBLE",
                 "FLOAT-SHORT", "FLOAT-LONG"}
SKIPPED_CLAUSES = {"JUSTIFIED", "JUST", "RIGHT", "GLOBAL", "EXTERNAL", "BLANK", "WHEN", "ZERO", "ZEROS", "ZEROES",
                   "IS", "CHARACTER"}
CLAUSE_WORDS = {"PIC", "PICTURE", "USAGE", "SIGN", "LEADING", "TRAILING", "REDEFINES", "OCCURS", "VALUE",
                "VALUES", "SYNC", "SYNCHRONIZED", "RENAMES"} | set(USAGES) | UNREAD_USAGES | SKIPPED_CLAUSES
BINARY_BYTES = ((4, 2), (9, 4), (18, 8))  # most digits -> bytes (COBOL's standard sizes)


@dataclass(frozen=True)
class CopybookField:
    """One elementary item of a record view, as a fixed-width field."""
    name: str
    offset: int
    length: int
    type: str  # text | kanji | zoned | packed | binary | native_binary | float
    picture: str
    line: int  # where the item is declared in the copybook
    digits: int | None = None
    scale: int = 0
    signed: bool | None = None  # binary types only
    sign: str | None = None  # zoned: leading | trailing_separate | leading_separate (trailing is the default)
    filler: bool = False
    edited: bool = False  # an edited picture (ZZ9.99, -9(5)): text as printed


@dataclass(frozen=True)
class RecordView:
    """One way to read the record area: a 01 record, or it with one redefinition in place."""
    name: str
    length: int
    fields: tuple[CopybookField, ...]
    line: int


@dataclass(frozen=True)
class Copybook:
    path: str
    views: tuple[RecordView, ...]

    @property
    def record_length(self) -> int:
        """The record area: the longest view (a file written through it has records this long)."""
        return max(v.length for v in self.views)

    def view(self, name: str) -> RecordView:
        for v in self.views:
            if v.name.upper() == name.upper():
                return v
        raise IkouError(tr("{path}: no record view {name!r}", path=self.path, name=name),
                        hint=tr("the views are: {values}", values=", ".join(v.name for v in self.views)))


@dataclass
class _Entry:
    level: int
    name: str | None
    line: int
    picture: str | None = None
    usage: str | None = None
    sign: str | None = None  # leading | trailing, with "_separate"
    redefines: str | None = None
    occurs: int = 1
    children: list[_Entry] = field(default_factory=list)
    parent: _Entry | None = None


# -- reading the text --------------------------------------------------------------------------------

def copybook_text(path: Path, encoding: str | None = None) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise IkouError(tr("copybook {path} does not exist", path=path)) from None
    for codec in ([encoding] if encoding else ["utf-8", "cp932"]):
        try:
            return raw.decode(codec)
        except UnicodeDecodeError:
            continue
    raise IkouError(tr("copybook {path} is neither UTF-8 nor CP932", path=path),
                    hint=tr("give its encoding with --copybook-encoding"))


def source_lines(text: str, source_format: str = "auto") -> list[tuple[int, str]]:
    """(line number, program text) of every line that is not a comment: fixed format keeps
    columns 8–72 (1–6 are a sequence number, 7 the indicator: * and / comment, - continues)."""
    lines = [line.expandtabs(8).rstrip("\r") for line in text.split("\n")]
    if source_format == "auto":
        source_format = "fixed" if all(re.match(r"^[0-9 ]{6}([ *\-/dD]|$)", line) or not line.strip()
                                       for line in lines) else "free"
    out: list[tuple[int, str]] = []
    for number, line in enumerate(lines, 1):
        if source_format == "fixed":
            indicator, body = line[6:7], line[7:72]
            if indicator in ("*", "/", "d", "D"):
                continue
            if indicator == "-" and out:
                out[-1] = (out[-1][0], out[-1][1].rstrip() + body.lstrip())
                continue
        else:
            body = line
        body = body.split("*>", 1)[0]
        if body.strip().upper().startswith(("EJECT", "SKIP1", "SKIP2", "SKIP3", ">>", "$")):
            continue
        if body.strip():
            out.append((number, body))
    return out


def _tokens(lines: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Words, literals and separator periods (a period followed by a space or the line's end)."""
    out = []
    for number, body in lines:
        for word in re.findall(r"'[^']*'|\"[^\"]*\"|\S+", body):
            if word[0] in "'\"":
                out.append((number, word))
                continue
            word = word.rstrip(",;")
            period = word.endswith(".")
            word = word.rstrip(".") if period else word
            if word:
                out.append((number, word))
            if period:
                out.append((number, "."))
    return out


def _entries(tokens: list[tuple[int, str]], where: str, problems: list[str]) -> list[_Entry]:
    entries, current = [], []
    for number, word in tokens:
        if word == ".":
            if current:
                entry = _entry(current, where, problems)
                if entry is not None:
                    entries.append(entry)
            current = []
        else:
            current.append((number, word))
    if current:
        problems.append(tr("{where} line {line}: the entry does not end with a period",
                           where=where, line=current[0][0]))
    return entries


def _entry(words: list[tuple[int, str]], where: str, problems: list[str]) -> _Entry | None:
    line = words[0][0]
    at = f"{where} line {line}"
    upper = [w.upper() if w[0] not in "'\"" else w for _, w in words]
    if upper[0] == "COPY":
        problems.append(tr("{at}: COPY {name} inside the copybook: expand it first (cobc -E writes the expanded "
                           "source)", at=at, name=words[1][1] if len(words) > 1 else ""))
        return None
    if not upper[0].isdigit():
        problems.append(tr("{at}: expected a level number, found {word!r}", at=at, word=words[0][1]))
        return None
    level = int(upper[0])
    if level == 88:
        return None
    if level == 66:
        problems.append(tr("{at}: 66 RENAMES is not read: describe the fields it renames instead", at=at))
        return None
    if not (1 <= level <= 49 or level == 77):
        problems.append(tr("{at}: level {level} is not a data description level (01-49, 77, 88)", at=at, level=level))
        return None
    i, name = 1, None
    if len(upper) > 1 and upper[1] not in CLAUSE_WORDS:
        name, i = words[1][1], 2
    entry = _Entry(level=level, name=None if name is None or name.upper() == "FILLER" else name, line=line)
    while i < len(upper):
        word = upper[i]
        nxt = upper[i + 1] if i + 1 < len(upper) else ""
        if word in ("PIC", "PICTURE"):
            i += 2 if nxt == "IS" else 1
            entry.picture = upper[i] if i < len(upper) else None
            i += 1
        elif word == "USAGE":
            i += 2 if nxt == "IS" else 1
        elif word in USAGES:
            entry.usage, i = word, i + 1
        elif word in UNREAD_USAGES:
            problems.append(tr("{at}: USAGE {usage} is not read (no value a migration needs is stored that way); "
                               "describe the bytes as PIC X", at=at, usage=word))
            entry.usage, i = "DISPLAY", i + 1
        elif word in ("SIGN", "LEADING", "TRAILING"):
            if word == "SIGN":
                i += 2 if nxt == "IS" else 1
            position = upper[i].lower() if i < len(upper) else ""
            i += 1
            if i < len(upper) and upper[i] == "SEPARATE":
                position += "_separate"
                i += 2 if i + 1 < len(upper) and upper[i + 1] == "CHARACTER" else 1
            entry.sign = position
        elif word == "REDEFINES":
            entry.redefines, i = words[i + 1][1] if i + 1 < len(words) else None, i + 2
        elif word == "OCCURS":
            count = upper[i + 1] if i + 1 < len(upper) else ""
            rest = upper[i + 2:]
            if not count.isdigit():
                problems.append(tr("{at}: OCCURS needs a number of times", at=at))
            elif "DEPENDING" in rest or (rest[:1] == ["TO"]):
                problems.append(tr("{at}: OCCURS … DEPENDING ON makes records of varying length: not read as "
                                   "fixed-width", at=at))
            else:
                entry.occurs = int(count)
            i += 2
            while i < len(upper) and upper[i] not in CLAUSE_WORDS - SKIPPED_CLAUSES:
                i += 1  # TIMES, ASCENDING/DESCENDING KEY …, INDEXED BY …
        elif word in ("SYNC", "SYNCHRONIZED"):
            problems.append(tr("{at}: SYNCHRONIZED adds slack bytes where the compiler chooses: give the layout "
                               "without it (or the field offsets by hand)", at=at))
            i += 1
        elif word in ("VALUE", "VALUES"):
            i += 1
            while i < len(upper) and upper[i] not in CLAUSE_WORDS - SKIPPED_CLAUSES - {"ZERO", "ZEROS", "ZEROES"}:
                i += 1
        elif word in SKIPPED_CLAUSES:
            i += 1
        else:
            problems.append(tr("{at}: {word!r} is not a clause this reader knows", at=at, word=words[i][1]))
            i += 1
    return entry


def _tree(entries: list[_Entry], stem: str, where: str, problems: list[str]) -> list[_Entry]:
    """The records (01 and 77 levels): each entry under the nearest one above it with a lower level."""
    if entries and entries[0].level not in (1, 77):
        root = _Entry(level=0, name=stem.upper(), line=entries[0].line)  # a copybook of the fields below an 01
        records, stack = [root], [root]
    else:
        records, stack = [], []
    for e in entries:
        if e.level in (1, 77) and not (records and records[0].level == 0):
            records.append(e)
            stack = [e] if e.level == 1 else []
            continue
        while stack and stack[-1].level >= e.level:
            stack.pop()
        if not stack:
            problems.append(tr("{where} line {line}: level {level} is outside any record", where=where,
                               line=e.line, level=e.level))
            continue
        e.parent = stack[-1]
        stack[-1].children.append(e)
        stack.append(e)
    return records


# -- pictures and sizes ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Picture:
    kind: str  # alphanumeric | national | numeric | edited
    size: int  # characters (national: characters, 2 bytes each)
    digits: int = 0
    scale: int = 0
    signed: bool = False


def parse_picture(text: str) -> Picture | None:
    """A PICTURE string's category and size; None when it is not one."""
    expanded, pos = [], 0
    for m in re.finditer(r"(CR|DB|[AXN9SVPZB0/*+\-.,$E])(?:\((\d+)\))?", text.upper()):
        if m.start() != pos:
            return None
        expanded += [m.group(1)] * int(m.group(2) or 1)
        pos = m.end()
    if pos != len(text) or not expanded:
        return None
    chars = set(expanded)
    if chars <= {"N", "B"} and "N" in chars:
        return Picture("national", len(expanded))
    if chars & {"X", "A"}:
        edited = bool(chars - {"X", "A"})
        return Picture("edited" if edited else "alphanumeric", len(expanded)) if chars <= {"X", "A", "9", "B", "0", "/"} \
            else None
    if chars <= {"9", "S", "V", "P"} and "9" in chars:
        if expanded.count("S") > 1 or ("S" in chars and expanded[0] != "S") or expanded.count("V") > 1:
            return None
        body = [c for c in expanded if c != "S"]
        digits = body.count("9")
        point = body.index("V") if "V" in body else None
        before = body[:point] if point is not None else body
        after = body[point + 1:] if point is not None else []
        if "P" in before and before[0] == "P":  # PPP999: all digits are beyond the point
            scale = len(before) + len(after) if point is None else None
        elif "P" in before:  # 999PP: the stored 123 is 12300
            scale = -before.count("P") if point is None or not after else None
        else:
            scale = len(after)
        if scale is None:
            return None
        return Picture("numeric", digits, digits=digits, scale=scale, signed="S" in chars)
    if "9" in chars or "Z" in chars or "*" in chars:
        return Picture("edited", sum(2 if c in ("CR", "DB") else 1 for c in expanded if c not in ("V",)))
    return None


def _usage(e: _Entry) -> str:
    node: _Entry | None = e
    while node is not None:
        if node.usage:
            return USAGES[node.usage]
        node = node.parent
    return "display"


def _sign(e: _Entry) -> str | None:
    node: _Entry | None = e
    while node is not None:
        if node.sign:
            return node.sign
        node = node.parent
    return None


def _elementary(e: _Entry, where: str, problems: list[str]) -> CopybookField | None:
    """The field an elementary item is (offset 0: placed by the caller)."""
    at = f"{where} line {e.line}"
    usage, name = _usage(e), e.name or "FILLER"
    if usage in ("float4", "float8"):
        if e.picture:
            problems.append(tr("{at}: {name}: COMP-1 and COMP-2 take no PIC", at=at, name=name))
        return CopybookField(name, 0, 4 if usage == "float4" else 8, "float", "", e.line, filler=e.name is None)
    if not e.picture:
        problems.append(tr("{at}: {name} has neither PIC nor children", at=at, name=name))
        return None
    pic = parse_picture(e.picture)
    if pic is None:
        problems.append(tr("{at}: {name}: PIC {picture} is not a picture this reader knows", at=at, name=name,
                           picture=e.picture))
        return None
    filler = e.name is None
    if pic.kind != "numeric":
        if usage != "display":
            problems.append(tr("{at}: {name}: PIC {picture} is not numeric: USAGE {usage} needs a PIC of 9s",
                               at=at, name=name, picture=e.picture, usage=usage))
            return None
        if pic.kind == "national":
            return CopybookField(name, 0, 2 * pic.size, "kanji", e.picture, e.line, filler=filler)
        return CopybookField(name, 0, pic.size, "text", e.picture, e.line, filler=filler, edited=pic.kind == "edited")
    sign = _sign(e) if pic.signed else None
    if e.sign and not pic.signed:
        problems.append(tr("{at}: {name}: a SIGN clause needs a signed PIC (S9…)", at=at, name=name))
    common = dict(picture=e.picture, line=e.line, digits=pic.digits, scale=pic.scale, filler=filler)
    if usage == "display":
        separate = sign is not None and sign.endswith("_separate")
        return CopybookField(name, 0, pic.digits + separate, "zoned",
                             sign=sign if sign not in (None, "trailing") else None, **common)
    if sign is not None:
        problems.append(tr("{at}: {name}: a SIGN clause applies to DISPLAY numbers only", at=at, name=name))
    if usage == "packed":
        if pic.digits > 31:
            problems.append(tr("{at}: {name}: packed numbers hold up to 31 digits", at=at, name=name))
        return CopybookField(name, 0, pic.digits // 2 + 1, "packed", **common)
    size = next((size for most, size in BINARY_BYTES if pic.digits <= most), None)
    if size is None:
        problems.append(tr("{at}: {name}: binary numbers hold up to 18 digits", at=at, name=name))
        return None
    return CopybookField(name, 0, size, usage, signed=pic.signed, **common)


# -- the record views --------------------------------------------------------------------------------

def parse_copybook(path: Path, encoding: str | None = None, source_format: str = "auto") -> Copybook:
    """Every record view of the copybook, each field placed; every problem found, raised at once."""
    where = str(path)
    problems: list[str] = []
    entries = _entries(_tokens(source_lines(copybook_text(path, encoding), source_format)), where, problems)
    records = _tree(entries, path.stem, where, problems)
    if not records and not problems:
        problems.append(tr("{where}: no data description entries (level numbers with PIC clauses)", where=where))
    views: list[RecordView] = []
    for record in records:
        if not record.children and record.picture is None and _usage(record) not in ("float4", "float8"):
            problems.append(tr("{where} line {line}: record {name} has no fields", where=where, line=record.line,
                               name=record.name))
            continue
        for active in [None, *_redefiners(record)]:
            chosen = set()
            node = active
            while node is not None:
                chosen.add(id(node))
                node = node.parent
            fields: list[CopybookField] = []
            length = _place(record, 0, "", chosen, fields, where, problems)
            name = record.name if active is None else active.name or f"FILLER-{active.line}"
            views.append(RecordView(name or "RECORD", length, tuple(_unique(fields, where, problems)),
                                    (active or record).line))
    if problems:
        raise IkouError(tr("{where}: the copybook cannot be read", where=where), problems=problems,
                        hint=tr("fix the entries named above (docs/copybooks.md lists what is read)"))
    return Copybook(where, tuple(views))


def _redefiners(e: _Entry) -> list[_Entry]:
    out = []
    for c in e.children:
        if c.redefines:
            out.append(c)
        out += _redefiners(c)
    return out


def _place(e: _Entry, offset: int, suffix: str, chosen: set[int], out: list[CopybookField], where: str,
           problems: list[str]) -> int:
    """Append ``e``'s fields at ``offset`` (once per occurrence); return its size (all occurrences)."""
    size = 0
    for n in range(e.occurs):
        index = f"{suffix}-{n + 1}" if e.occurs > 1 else suffix
        start = offset + size
        if not e.children:
            f = _elementary(e, where, problems)
            if f is None:
                return 0
            name = f"FILLER-{start}" if f.filler else f"{f.name}{index}"
            out.append(CopybookField(**{**f.__dict__, "name": name, "offset": start}))
            size += f.length
            continue
        if e.picture:
            problems.append(tr("{where} line {line}: {name} is a group (it has items below it) and has a PIC",
                               where=where, line=e.line, name=e.name))
        at, sizes = start, {}
        for c in e.children:
            if c.redefines:
                target = next((s for s in e.children if s.name and s.name.upper() == c.redefines.upper()), None)
                if target is None or id(target) not in sizes:
                    problems.append(tr("{where} line {line}: {name} REDEFINES {target}, which is not an item "
                                       "before it in the same group", where=where, line=c.line, name=c.name,
                                       target=c.redefines))
                    continue
                base, target_size = sizes[id(target)]
                scratch: list[CopybookField] = []
                length = _place(c, base, index, chosen, scratch, where, problems)
                if length > target_size:
                    problems.append(tr("{where} line {line}: {name} ({length} bytes) is longer than {target} "
                                       "({target_length} bytes), which it redefines", where=where, line=c.line,
                                       name=c.name, length=length, target=c.redefines, target_length=target_size))
                if id(c) in chosen:
                    # the redefinition in place of its original: drop the original's fields
                    out[:] = [f for f in out if not (base <= f.offset < base + target_size)] + scratch
                continue
            scratch = []
            length = _place(c, at, index, chosen, scratch, where, problems)
            sizes[id(c)] = (at, length)
            out += scratch
            at += length
        size += at - start
    return size


def _unique(fields: list[CopybookField], where: str, problems: list[str]) -> list[CopybookField]:
    """Fields in byte order; a name declared twice (COBOL qualifies it with OF) is refused."""
    fields = sorted(fields, key=lambda f: f.offset)
    seen: dict[str, CopybookField] = {}
    for f in fields:
        if f.name.upper() in seen:
            problems.append(tr("{where} line {line}: {name} is declared twice in one record (lines {first} and "
                               "{line}): rename one in a copy of the copybook", where=where, line=f.line,
                               name=f.name, first=seen[f.name.upper()].line))
        seen[f.name.upper()] = f
    return fields

"""XML extractor: records streamed with lxml ``iterparse`` (memory bounded by a record, not the
file), element and attribute paths with namespaces (issue 3; docs/mapping.md).

Same interface as the other extractors. ``_line`` is the line where the record element starts,
``_offset`` its ordinal (XML gives no byte offsets; the line locates the record), and ``_raw``
carries the record's XML, so that a record rejected later in the pipeline keeps its raw form.

Hardened: a document with a DOCTYPE is refused before parsing (a migration export needs no DTD,
and entity declarations are how billion-laughs expansion and external entities get in); the
parser never loads a DTD, never resolves entities and never touches the network. Malformed XML
stops the run with its line and column before anything is written. A field path that matches
more than one element rejects the record: choosing one would be a guess.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import polars as pl
from lxml import etree

from ikou.errors import IkouError
from ikou.extract.types import REJECT_SCHEMA, Chunk, FileStats
from ikou.i18n import tr
from ikou.mapping import Source

RECORDS_PER_CHUNK = 50_000
PROLOG_BYTES = 64 * 1024


def _clark(path: str, namespaces: dict[str, str]) -> list[str]:
    """'j:一覧/j:住民' -> ['{urn:x}一覧', '{urn:x}住民'] (lxml's {namespace}name form)."""
    out = []
    for step in [s for s in path.split("/") if s]:
        if ":" in step:
            prefix, local = step.split(":", 1)
            out.append(f"{{{namespaces[prefix]}}}{local}")
        else:
            out.append(step)
    return out


class XmlExtractor:
    def __init__(self, path: Path, display_path: str, source: Source, chunk_bytes: int):
        if source.xml is None:
            raise ValueError("an XML source needs its record and field paths")
        self.path, self.display, self.source, self.layout = path, display_path, source, source.xml
        self.stats = FileStats(path=display_path)
        self.duplicate_columns: list[str] = []
        self._record_path = _clark(self.layout.record, self.layout.namespaces)
        # one compiled XPath per field: element text, or an attribute's value for paths ending in @name
        self._paths = {name: etree.XPath(path or ".", namespaces=self.layout.namespaces)
                       for name, path in self.layout.fields.items()}

    def read_header(self) -> list[str]:
        if self.path.stat().st_size == 0:
            raise IkouError(tr("{display}: the file is empty", display=self.display))
        with open(self.path, "rb") as fh:
            prolog = fh.read(PROLOG_BYTES)
        if b"<!DOCTYPE" in prolog or b"<!ENTITY" in prolog:
            raise IkouError(tr("{display}: the XML declares a DOCTYPE (DTD or entities); ikou does not read "
                               "DTDs or expand entities",
                               display=self.display), hint=tr("ask for the export without a DOCTYPE (a data "
                                                               "export needs none); entity declarations can "
                                                               "expand without bound or fetch external files"))
        self.stats.header = list(self.layout.fields)
        return self.stats.header

    def _parser_events(self) -> Iterator[tuple[str, etree._Element]]:
        return etree.iterparse(str(self.path), events=("start", "end"), resolve_entities=False, no_network=True,
                               load_dtd=False, dtd_validation=False, huge_tree=False, remove_comments=True,
                               remove_pis=True)

    def chunks(self) -> Iterator[Chunk]:
        if not self.stats.header:
            self.read_header()
        names = list(self.layout.fields)
        rows: list[list[str | None]] = []
        raws: list[bytes] = []
        lines: list[int] = []
        ordinals: list[int] = []
        rejects: list[tuple[int, int, str, str, str, bytes]] = []
        stack: list[str] = []
        ordinal = 0
        try:
            for event, elem in self._parser_events():
                if event == "start":
                    if not stack and elem.getroottree().docinfo.doctype:
                        # a DOCTYPE past the prolog check (e.g. after a long comment): refused all the same
                        raise IkouError(tr("{display}: the XML declares a DOCTYPE; ikou does not read DTDs or "
                                           "expand entities",
                                           display=self.display), hint=tr("ask for the export without a DOCTYPE"))
                    stack.append(elem.tag)
                    continue
                at_record = stack[-len(self._record_path):] == self._record_path and \
                    len(stack) == len(self._record_path)
                stack.pop()
                if not at_record:
                    continue
                ordinal += 1
                self.stats.records += 1
                values, problem = self._fields(elem)
                raw = etree.tostring(elem, encoding="utf-8", with_tail=False)  # the record as exported
                if problem is None:
                    rows.append(values)
                    raws.append(raw)
                    lines.append(elem.sourceline or 0)
                    ordinals.append(ordinal)
                else:
                    rejects.append((elem.sourceline or 0, ordinal, "ambiguous_field", problem[0], problem[1], raw))
                # free the record and what came before it: memory bounded by a record
                elem.clear(keep_tail=False)
                parent = elem.getparent()
                if parent is not None:
                    while elem.getprevious() is not None:
                        del parent[0]
                if len(rows) + len(rejects) >= RECORDS_PER_CHUNK:
                    yield self._chunk(names, rows, raws, lines, ordinals, rejects)
                    rows, raws, lines, ordinals, rejects = [], [], [], [], []
        except etree.XMLSyntaxError as exc:
            line, column = exc.position if exc.position else (exc.lineno, 0)
            raise IkouError(tr("{display}: malformed XML at line {line}, column {column}: {msg}",
                               display=self.display, line=line, column=column, msg=exc.msg),
                            hint=tr("the export is not well-formed XML; ask the vendor for a complete file")) from exc
        if rows or rejects:
            yield self._chunk(names, rows, raws, lines, ordinals, rejects)
        with open(self.path, "rb") as fh:
            digest = hashlib.sha256()
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
                self.stats.size += len(block)
        self.stats.sha256 = digest.hexdigest()

    def _fields(self, record: etree._Element) -> tuple[list[str | None], tuple[str, str] | None]:
        values: list[str | None] = []
        for name, xpath in self._paths.items():
            found = [(n.text or "") if isinstance(n, etree._Element) else str(n) for n in xpath(record)]
            if len(found) > 1:
                return values, (name, f"{self.layout.fields[name]!r} matches {len(found)} nodes in this record "
                                      f"(field {name})")
            values.append(found[0] if found and found[0] != "" else None)
        return values, None

    def _chunk(self, names: list[str], rows: list[list[str | None]], raws: list[bytes], lines: list[int],
               ordinals: list[int], rejects: list[tuple[int, int, str, str, str, bytes]]) -> Chunk:
        frame = pl.DataFrame(rows, schema={n: pl.String for n in names}, orient="row") if rows else \
            pl.DataFrame(schema={n: pl.String for n in names})
        frame = frame.with_columns(pl.Series("_line", lines, dtype=pl.Int64),
                                   pl.Series("_offset", ordinals, dtype=pl.Int64),
                                   pl.Series("_length", [len(r) for r in raws], dtype=pl.Int64),
                                   pl.Series("_raw", raws, dtype=pl.Binary))
        rej = pl.DataFrame({
            "_line": [r[0] for r in rejects], "_offset": [r[1] for r in rejects], "_length": [len(r[5]) for r in rejects],
            "reason_code": [r[2] for r in rejects], "item": [r[3] for r in rejects], "message": [r[4] for r in rejects],
            "raw_bytes": [r[5] for r in rejects]}, schema=REJECT_SCHEMA)
        self.stats.rejected += rej.height
        return Chunk(frame=frame, rejects=rej)

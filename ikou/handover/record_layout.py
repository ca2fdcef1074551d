"""Fixed-width hand-over files (固定長): the record layout file a mainframe receiver gives, as data.

    table: resident
    encoding: cp932           # cp932 (bytes are counted in it) or utf-8
    record_end: crlf          # crlf | lf | none
    fields:
      - {item: atena_number, length: 15, align: right, pad: "0"}
      - {item: name, length: 60}            # text: left-aligned, padded with spaces
      - {item: birth_date, offset: 75, length: 10}

Lengths and offsets are in bytes of the encoding; an offset, where given, must not overlap the
field before it (a gap is written as spaces, like a FILLER). A value longer than its field stops
the export with the record and item: nothing is ever cut."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, ValidationError

from ikou.config.base import FileModel
from ikou.errors import IkouError
from ikou.i18n import tr
from ikou.layout import Table

RECORD_ENDS = {"crlf": b"\r\n", "lf": b"\n", "none": b""}


class FieldFile(FileModel):
    item: str
    length: int = Field(ge=1, description="Bytes in the layout's encoding.")
    offset: int | None = Field(None, ge=0, description="Byte offset (default: right after the field before).")
    align: Literal["left", "right"] | None = Field(None, description="Default: right for numbers, left for text.")
    pad: str = Field(" ", min_length=1, max_length=1, description="The padding character (one byte: ' ' or '0').")


class RecordLayoutFile(FileModel):
    table: str
    encoding: Literal["cp932", "utf-8"] = "cp932"
    record_end: Literal["crlf", "lf", "none"] = "crlf"
    fields: list[FieldFile] = Field(min_length=1)


@dataclass(frozen=True)
class Slot:
    item: str
    offset: int
    length: int
    align: str
    pad: bytes


@dataclass(frozen=True)
class RecordLayout:
    table: str
    encoding: str
    record_end: bytes
    slots: tuple[Slot, ...]
    data_length: int  # bytes per record without the record end
    source: dict  # resolved: every field with its offset and alignment (kept in the manifest)

    @property
    def record_length(self) -> int:
        return self.data_length + len(self.record_end)


NUMERIC = {"integer", "decimal", "money"}


def declared_table(path: Path) -> str:
    """The table a record layout file is for (its ``table:``)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise IkouError(tr("cannot read the record layout {path}: {strerror}", path=path, strerror=exc.strerror)) from exc
    except yaml.YAMLError as exc:
        raise IkouError(tr("{path} is not YAML: {exc}", path=path, exc=exc)) from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("table"), str):
        raise IkouError(tr("{path}: a record layout names its table (table: resident)", path=path),
                        hint=tr("see docs/handover.md (fixed-width files)"))
    return raw["table"]


def load_record_layout(path: Path, table: Table) -> RecordLayout:
    """Read and check a record layout file against the layout table; every problem at once."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        spec = RecordLayoutFile.model_validate(raw)
    except OSError as exc:
        raise IkouError(tr("cannot read the record layout {path}: {strerror}", path=path, strerror=exc.strerror)) from exc
    except (yaml.YAMLError, ValidationError) as exc:
        raise IkouError(tr("{path} is not a record layout: {exc}", path=path, exc=exc), hint=tr("see docs/handover.md (fixed-width files)")) from exc
    problems = []
    if spec.table != table.id:
        problems.append(tr("table: {table!r}, but this export writes {id!r}", table=spec.table, id=table.id))
    ids = {it.id: it for it in table.items}
    slots, at = [], 0
    for i, f in enumerate(spec.fields):
        where = f"fields[{i}] ({f.item})"
        if f.item not in ids:
            problems.append(tr("{where}: not an item of {id} (ikou layouts show {value})",
                               where=where, id=table.id, value=table.id.split('_')[0]))
            continue
        if f.pad.encode(spec.encoding) not in (b" ", b"0"):
            problems.append(tr("{where}: pad must be ' ' or '0'", where=where))
            continue
        offset = at if f.offset is None else f.offset
        if offset < at:
            problems.append(tr("{where}: offset {offset} overlaps the field before it (which ends at {at})",
                               where=where, offset=offset, at=at))
        align = f.align or ("right" if ids[f.item].type in NUMERIC else "left")
        if f.pad == "0" and align != "right":
            problems.append(tr("{where}: pad '0' needs align: right (zeros pad a number on its left)", where=where))
        slots.append(Slot(f.item, offset, f.length, align, f.pad.encode(spec.encoding)))
        at = max(at, offset + f.length)
    if problems:
        raise IkouError(tr("{path}: the record layout has {count} problem(s)", path=path, count=len(problems)),
                        problems=problems)
    resolved = {"table": spec.table, "encoding": spec.encoding, "record_end": spec.record_end,
                "fields": [{"item": s.item, "offset": s.offset, "length": s.length, "align": s.align,
                            "pad": s.pad.decode(spec.encoding)} for s in slots]}
    return RecordLayout(spec.table, spec.encoding, RECORD_ENDS[spec.record_end], tuple(slots), at, resolved)


def layout_from_manifest(source: dict) -> RecordLayout:
    """The record layout a manifest carries (resolved and checked when the export was written)."""
    spec = RecordLayoutFile.model_validate(source)
    slots, at = [], 0
    for f in spec.fields:
        offset = at if f.offset is None else f.offset
        slots.append(Slot(f.item, offset, f.length, f.align or "left", f.pad.encode(spec.encoding)))
        at = max(at, offset + f.length)
    return RecordLayout(spec.table, spec.encoding, RECORD_ENDS[spec.record_end], tuple(slots), at, source)


def fixed_record(layout: RecordLayout, values: dict[str, str | None]) -> tuple[bytes, list[tuple[str, str]]]:
    """One record's bytes, and the fields whose value does not fit: (item, why)."""
    out = bytearray(b" " * layout.data_length)
    problems = []
    for s in layout.slots:
        value = values.get(s.item)
        data = b"" if value is None else value.encode(layout.encoding)
        if len(data) > s.length:
            problems.append((s.item, f"{len(data)} bytes in a field of {s.length}"))
            continue
        if value is None:  # no value: spaces (zeros would read back as 0)
            continue
        fill = s.pad * (s.length - len(data))
        if s.pad == b"0" and data.startswith(b"-"):  # -123 -> -000123, not 000-123
            data, fill = data[1:], b"-" + fill
        out[s.offset:s.offset + s.length] = (data + fill) if s.align == "left" else (fill + data)
    return bytes(out) + layout.record_end, problems


def fixed_values(layout: RecordLayout, record: bytes, items: list[str] | None = None) -> dict[str, str | None]:
    """A record's fields (``items`` only, if given) as text: left-aligned fields lose their
    trailing spaces, right-aligned ones their leading spaces; a field of spaces only is empty
    (None). Zeros are kept as written."""
    out = {}
    for s in layout.slots:
        if items is not None and s.item not in items:
            continue
        text = record[s.offset:s.offset + s.length].decode(layout.encoding)
        text = text.rstrip(" ") if s.align == "left" else text.lstrip(" ")
        out[s.item] = text or None
    return out

"""A copybook's record views written as the fixed-width part of a mapping's sources (``ikou
copybook``, ``ikou inspect --draft-mapping --copybook``): one source per view, with every field's
offset, length, type, digits, scale and sign, FILLER declared dropped, and — when the user names
the field that tells the views apart — the record type and the codes of each view."""

from __future__ import annotations

import json

from ikou.copybook import Copybook, CopybookField, RecordView
from ikou.errors import IkouError
from ikou.i18n import tr


def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def field_flow(f: CopybookField) -> str:
    """A field as a YAML flow mapping, the keys of docs/mapping.md."""
    parts = [f"offset: {f.offset}", f"length: {f.length}"]
    if f.type != "text":
        parts.append(f"type: {f.type}")
    if f.digits is not None and f.type in ("zoned", "packed", "binary", "native_binary"):
        parts.append(f"digits: {f.digits}")
    if f.scale:
        parts.append(f"scale: {f.scale}")
    if f.signed is not None:
        parts.append(f"signed: {'true' if f.signed else 'false'}")
    if f.sign:
        parts.append(f"sign: {f.sign}")
    return "{" + ", ".join(parts) + "}"


def _comment(f: CopybookField) -> str:
    what = f"PIC {f.picture}" if f.picture else ("COMP-1" if f.length == 4 else "COMP-2")
    usage = {"packed": " COMP-3", "binary": " COMP", "native_binary": " COMP-5"}.get(f.type, "")
    note = " (edited: text as printed)" if f.edited else ""
    return f"# {what}{usage}{note}, line {f.line}"


def type_field(book: Copybook, name: str) -> CopybookField:
    """The field that tells the record views apart, wherever a view declares it."""
    for view in book.views:
        for f in view.fields:
            if f.name.upper() == name.upper():
                return f
    raise IkouError(tr("{path}: --type-field {name}: no such field in any record view", path=book.path, name=name),
                    hint=tr("the views are: {values}", values=", ".join(v.name for v in book.views)))


def sources_yaml(book: Copybook, views: list[RecordView], encoding: str, type_name: str | None,
                 codes: dict[str, str], head: tuple[str, ...] = (), tail: tuple[str, ...] = ()) -> list[str]:
    """The lines of a ``sources:`` list item per view; ``head`` (after its name) and ``tail``
    (after its fields) are what the caller knows and the copybook cannot (table, files, items)."""
    indent = "  "
    unknown = [v for v in codes if v.upper() not in {w.name.upper() for w in book.views}]
    if unknown:
        raise IkouError(tr("{path}: --type-code names no record view: {values}", path=book.path,
                           values=", ".join(unknown)),
                        hint=tr("the views are: {values}", values=", ".join(v.name for v in book.views)))
    codes = {k.upper(): v for k, v in codes.items()}
    rtype = type_field(book, type_name) if type_name else None
    if rtype is not None:
        bad = [f"{view}={code}" for view, code in codes.items() if len(code.encode("utf-8")) != rtype.length]
        if bad:
            raise IkouError(tr("{path}: a record type code must be {length} character(s) long (the type field "
                               "{name}): {values}", path=book.path, length=rtype.length, name=rtype.name,
                               values=", ".join(bad)))
    lines: list[str] = []
    for view in views:
        lines += [f"{indent}- name: {view.name.lower()}          # the record view {view.name}: {view.length} bytes"
                  f" (copybook line {view.line})",
                  *(f"{indent}  {line}" for line in head),
                  f"{indent}  format: fixed",
                  f"{indent}  encoding: {encoding}",
                  f"{indent}  record_length: {book.record_length}"]
        if rtype is not None:
            lines.append(f"{indent}  record_type: {{offset: {rtype.offset}, length: {rtype.length}}}"
                         f"    # {rtype.name}")
            own = codes.get(view.name.upper())
            others = [c for v, c in codes.items() if v != view.name.upper() and c != own]
            lines.append(f"{indent}  data_codes: [{_q(own)}]" if own else
                         f"{indent}  data_codes: []          # TODO: the {rtype.name} code of {view.name} records")
            if others:
                lines.append(f"{indent}  other_codes: [{', '.join(_q(c) for c in others)}]    # the other views")
        lines.append(f"{indent}  fields:")
        width = max((len(_q(f.name)) for f in view.fields), default=0)
        for f in view.fields:
            flow = field_flow(f)
            lines.append(f"{indent}    {_q(f.name) + ':':<{width + 1}} {flow:<48} {_comment(f)}")
        fillers = [f for f in view.fields if f.filler]
        if fillers:
            lines.append(f"{indent}  unmapped_columns:")
            lines += [f"{indent}    {_q(f.name)}: {{drop: {_q(f'FILLER: no data (bytes {f.offset}-{f.offset + f.length - 1})')}}}"
                      for f in fillers]
        lines += [f"{indent}  {line}" for line in tail]
    return lines


def copybook_yaml(book: Copybook, views: list[RecordView], encoding: str, type_name: str | None,
                  codes: dict[str, str], command: str) -> str:
    head = [f"# written by `{command}`: {len(views)} of {len(book.views)} record view(s) of {book.path}, "
            f"records of {book.record_length} bytes",
            "# Each view is the fixed-width part of a source: add table, files and items (docs/copybooks.md);",
            "# FILLER holds no data and is declared dropped. Check it with: ikou migrate --dry-run",
            "sources:"]
    return "\n".join(head + sources_yaml(book, views, encoding, type_name, codes)) + "\n"

"""What kind of container a file is, by its first bytes: an Excel workbook, a zip archive (Japan
Post ships KEN_ALL zipped), or neither (a text or record file). Read before a CSV or fixed-width
extractor guesses at bytes that are not records at all."""

from __future__ import annotations

import zipfile
from pathlib import Path

from ikou.i18n import tr

OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the compound file of .xls (Excel 97-2003)


def sniff(path: Path) -> tuple[str | None, str]:
    """(kind, description): kind is xlsx, xls, ods, zip or None."""
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head.startswith(OLE2):
        return "xls", tr("an Excel 97-2003 workbook (.xls)")
    if not head.startswith(b"PK\x03\x04"):
        return None, ""
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except zipfile.BadZipFile:
        return None, ""  # four bytes that happen to read PK\3\4: a record file after all
    if any(n.startswith("xl/") for n in names) and "[Content_Types].xml" in names:
        return "xlsx", tr("an Excel workbook (.xlsx)")
    if "content.xml" in names and "mimetype" in names:
        return "ods", tr("an OpenDocument spreadsheet (.ods)")
    shown = ", ".join(names[:5]) + (f" … ({len(names)} files)" if len(names) > 5 else "")
    return "zip", tr("a zip archive holding {shown}", shown=shown)


def container_hint(kind: str, description: str) -> str:
    if kind in ("xlsx", "xls", "ods"):
        return tr("the file is {description}: declare format: xlsx (and sheet:) for this source",
                  description=description)
    return tr("the file is {description}: unzip it and point the source's files at the member",
              description=description)


def zip_members(path: Path) -> list[tuple[str, int]]:
    with zipfile.ZipFile(path) as zf:
        return [(i.filename, i.file_size) for i in zf.infolist() if not i.is_dir()]

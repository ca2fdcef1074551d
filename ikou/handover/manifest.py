"""The hand-over manifest (投入データ一覧): what a hand-over folder holds, written by `ikou export`
and checked by `ikou verify-handover`. One frozen object, read and written by both commands.

Per file: its table, municipality and run, format and encoding, bytes and sha256, records, the
columns in order, and the hash totals over key items and money sums taken on the file itself
(``ikou.reconciliation.totals``, the report's own definition), so that the receiving side can
recount what it received and compare it with the sender's reconciliation report."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ikou.errors import IkouError
from ikou.i18n import tr
from ikou.reconciliation.totals import HashTotal, MoneySum

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1


@dataclass(frozen=True)
class Degenerated:
    """A character the target encoding cannot hold, written as its 縮退 (degenerate) form."""
    file: str
    record: int  # 1-based record number in the file
    key: str  # the record's key, e.g. atena_number=0007010079;history_number=1
    item: str
    original: str  # U+9AD9 髙
    written: str  # U+9AD8 高 (empty: a variation selector dropped)


@dataclass(frozen=True)
class HandoverFile:
    path: str  # relative to the folder, with forward slashes
    layout: str
    layout_version: str
    layout_sha256: str
    table: str
    table_ja: str
    municipality_code: str
    run_id: str
    format: str  # csv | fixed
    encoding: str  # utf-8 | utf-8-sig | cp932
    bytes: int
    sha256: str
    records: int
    columns: tuple[str, ...]  # CSV: the header (standard Japanese item names); fixed: item ids
    items: tuple[str, ...]  # the item id of each column
    record_length: int | None = None  # fixed: bytes per record, record end included
    record_layout: dict | None = None  # fixed: the record layout as given (fields, offsets, encoding)
    hash_totals: tuple[HashTotal, ...] = ()
    money_sums: tuple[MoneySum, ...] = ()
    delta: str | None = None  # a delta hand-over's part: insert | update | delete (None: the whole table)
    delta_from: str | None = None  # the run the delta starts from (the receiver's bulk load)


@dataclass(frozen=True)
class Manifest:
    tool_version: str
    files: tuple[HandoverFile, ...]
    degenerated: tuple[Degenerated, ...] = ()
    manifest_version: int = MANIFEST_VERSION
    notes: tuple[str, ...] = field(default=())

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2, sort_keys=False) + "\n"

    @staticmethod
    def from_json(text: str, where: str) -> Manifest:
        try:
            d = json.loads(text)
            files = tuple(HandoverFile(**{**f, "columns": tuple(f["columns"]), "items": tuple(f["items"]),
                                          "hash_totals": tuple(HashTotal(**h) for h in f.get("hash_totals", ())),
                                          "money_sums": tuple(MoneySum(**m) for m in f.get("money_sums", ()))})
                          for f in d["files"])
            return Manifest(**{**d, "files": files, "degenerated": tuple(Degenerated(**x) for x in d.get("degenerated", ())),
                               "notes": tuple(d.get("notes", ()))})
        except (ValueError, KeyError, TypeError) as exc:
            raise IkouError(tr("{where} is not a hand-over manifest ikou can read: {exc}", where=where, exc=exc),
                            hint=tr("it is written by `ikou export`; a changed or truncated manifest cannot be "
                                    "checked")) from exc


def layout_file_name(layout_id: str, sha256: str) -> str:
    """The layout as the runs used it, one file per version (two members may run two versions)."""
    return f"layout_{layout_id}-{sha256[:12]}.yaml"


def read_manifest(folder: Path) -> Manifest:
    path = folder / MANIFEST
    if not path.is_file():
        raise IkouError(tr("{folder} holds no {MANIFEST}", folder=folder, MANIFEST=MANIFEST), hint=tr("give the folder `ikou export … --to DIR` wrote"))
    return Manifest.from_json(path.read_text(encoding="utf-8"), str(path))

"""`ikou verify-handover DIR`: a received hand-over folder checked against its manifest.

For every file the manifest lists: present, its bytes and sha256, its records counted again,
its columns, and its hash totals and money sums taken again on the file (the reader the export
used: ``files.file_totals``). Every difference is named (file, what, expected, found); a file in
the folder that the manifest does not list is named too. The report is a frozen object; the exit
code reads it (0 all as listed, 1 a difference)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from ikou.db import connect
from ikou.errors import ExitCode, IkouError
from ikou.handover.files import file_totals, sha256_of
from ikou.handover.manifest import MANIFEST, HandoverFile, layout_file_name, read_manifest
from ikou.i18n import tr
from ikou.layout import Table, load_layout, parse_layout

AUXILIARY = ("mapping_", "layout_")  # beside the data files: re-import mappings, the layouts as used


@dataclass(frozen=True)
class Difference:
    file: str
    what: str  # missing | bytes | sha256 | records | columns | hash_total | money_sum | unlisted
    expected: str
    found: str


@dataclass(frozen=True)
class FileCheck:
    file: str
    records: int | None
    ok: bool


@dataclass(frozen=True)
class VerifyReport:
    folder: str
    files: tuple[FileCheck, ...]
    differences: tuple[Difference, ...]

    @property
    def exit_code(self) -> int:
        return ExitCode.OVER_THRESHOLD if self.differences else ExitCode.OK

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "exit_code": int(self.exit_code)}, ensure_ascii=False, indent=2) + "\n"

    def render_text(self) -> str:
        lines = [f"hand-over {self.folder}: {len(self.files)} file(s) in the manifest, "
                 f"{len(self.differences)} difference(s)"]
        for f in self.files:
            lines.append(f"  {'ok ' if f.ok else 'NG '} {f.file}" + (f"  {f.records:,} records" if f.records is not None else ""))
        for d in self.differences:
            lines.append(f"  {d.file}: {d.what}: expected {d.expected}, found {d.found}")
        lines.append("result: " + ("as listed in the manifest" if not self.differences else "DIFFERENT from the manifest"))
        return "\n".join(lines) + "\n"


def _table(f: HandoverFile, folder: Path) -> Table:
    """The file's layout table: the layout the export kept in the folder, else the bundled one of
    that name."""
    kept = folder / layout_file_name(f.layout, f.layout_sha256)
    layout = parse_layout(kept.read_text(encoding="utf-8"), str(kept)) if kept.is_file() else load_layout(f.layout)
    if f.table not in layout.tables:
        raise IkouError(tr("{MANIFEST}: {path} is of table {table}, which layout {layout} does not have",
                           MANIFEST=MANIFEST, path=f.path, table=f.table, layout=f.layout))
    return layout.tables[f.table]


def verify_handover(folder: Path) -> VerifyReport:
    manifest = read_manifest(folder)
    differences: list[Difference] = []
    checks: list[FileCheck] = []
    for f in manifest.files:
        path = folder / f.path
        before = len(differences)
        if not path.is_file():
            differences.append(Difference(f.path, "missing", "present", "no such file"))
            checks.append(FileCheck(f.path, None, False))
            continue
        size, digest = sha256_of(path)
        if size != f.bytes:
            differences.append(Difference(f.path, "bytes", f"{f.bytes:,}", f"{size:,}"))
        if digest != f.sha256:
            differences.append(Difference(f.path, "sha256", f.sha256, digest))
        records = None
        try:
            con = connect()
            try:
                records, found, hashes, sums = file_totals(con, path, f.format, f.encoding, _table(f, folder),
                                                           f.items, f.record_layout)
            finally:
                con.close()
        except IkouError as exc:
            differences.append(Difference(f.path, "unreadable", "a file as the manifest describes it", str(exc)))
        else:
            if records != f.records:
                differences.append(Difference(f.path, "records", f"{f.records:,}", f"{records:,}"))
            if found != f.columns:
                gone = [c for c in f.columns if c not in found]
                extra = [c for c in found if c not in f.columns]
                differences.append(Difference(f.path, "columns", ", ".join(gone) or "the same order",
                                              ", ".join(extra) or "another order"))
            want = {(h.item, "hash_total"): h for h in f.hash_totals} | {(m.item, "money_sum"): m for m in f.money_sums}
            got = {(h.item, "hash_total"): h for h in hashes} | {(m.item, "money_sum"): m for m in sums}
            for (item, what), w in want.items():
                g = got.get((item, what))
                if g != w:
                    differences.append(Difference(f.path, what, _total(w), _total(g) if g else "not taken"))
        checks.append(FileCheck(f.path, records, len(differences) == before))
    listed = {f.path for f in manifest.files} | {MANIFEST}
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        if p.is_file() and rel not in listed and not rel.startswith(AUXILIARY):
            differences.append(Difference(rel, "unlisted", "not in the manifest", "present"))
    return VerifyReport(str(folder), tuple(checks), tuple(differences))


def _total(t) -> str:
    d = asdict(t)
    d.pop("table", None)
    d.pop("item_ja", None)
    return ", ".join(f"{k} {v}" for k, v in d.items())

"""The reconciliation report (照合レポート) for vendors: one frozen object built from OUT/ikou.duckdb,
rendered as text, JSON, HTML and detail tables (CSV / xlsx). The CLI's exit code reads the same
object. It holds counts, codes, hash totals, sums and the first REJECT_SAMPLES rejects of each
reason (masked); the detail tables (every reject with its raw record) are read from the DuckDB
file when they are written, with 個人番号-like digit runs masked.

One section per municipality: the latest committed run of each municipality in OUT.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb

from ikou import __version__
from ikou.db import connect
from ikou.delta_counts import DeltaSummary
from ikou.delta_counts import recount as recount_delta
from ikou.errors import ExitCode, IkouError
from ikou.i18n import tr
from ikou.layout import Layout, load_layout, parse_layout
from ikou.masking import mask_number_like_sql
from ikou.reconciliation.totals import HashTotal, MoneySum, hash_totals, money_sums
from ikou.report import FATE_COUNTS, FileCount, MoneyFlow, RunSummary, fate_totals, volume_shares

REPORT_FORMAT_VERSION = 1
REJECT_SAMPLES = 20  # rejects shown per reason code in the report's drill-down; the detail tables hold all
log = logging.getLogger("ikou")


@dataclass(frozen=True)
class ReasonCount:
    """Records per reason (reject reason_code, alert code or merge reason) and item."""
    code: str
    item: str | None
    item_ja: str | None
    records: int


@dataclass(frozen=True)
class RejectSample:
    """One rejected record shown in the report's drill-down (the first few per reason): where it is,
    why, and its raw record and message with every 個人番号-like digit run masked."""
    reason_code: str
    item: str | None
    item_ja: str | None
    source_file: str
    source_line: int | None
    byte_offset: int | None
    message: str | None
    raw_record: str | None


@dataclass(frozen=True)
class Coverage:
    """A code table's use in the export: legacy codes used, defined but unused, and found in the
    data but absent from the table (unmapped, with the records carrying each)."""
    code_table: str
    item: str
    item_ja: str | None
    used: int
    unused: int
    unmapped: int
    unmapped_codes: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class Gaiji:
    """外字 found in the export: mapped by the 外字 table (with the replacement) or kept and reported."""
    code: str
    item: str | None
    item_ja: str | None
    records: int
    mapped: bool
    replacement: str | None


@dataclass(frozen=True)
class Normalisation:
    """Landed values a cleansing rule changed (the originals are in cleansing_changes)."""
    item: str
    item_ja: str | None
    rule: str
    records: int


@dataclass(frozen=True)
class MunicipalityReport:
    municipality_code: str
    municipality_name: str
    layout: str
    layout_ja: str
    run_id: str
    tool_version: str
    mapping_path: str
    mapping_sha256: str
    finished_at: str
    run_exit_code: int
    files: tuple[FileCount, ...]  # as the run's summary counted them: source = landed + rejected + merged + excluded
    rejects: tuple[ReasonCount, ...]
    alerts: tuple[ReasonCount, ...]
    merges: tuple[ReasonCount, ...]
    coverage: tuple[Coverage, ...]
    gaiji: tuple[Gaiji, ...]
    normalisations: tuple[Normalisation, ...]
    hash_totals: tuple[HashTotal, ...]
    money_sums: tuple[MoneySum, ...]
    review_pairs: int
    reconciliation_problems: tuple[str, ...]
    money_totals: tuple[MoneyFlow, ...] = ()  # 金額照合 per item and group: source, landed, rejected, merged (yen)
    # from the run's summary: each source column's fate and value flow, the items the export
    # lacks, the constants, and the layout checks the mapping changed
    columns: tuple[dict, ...] = ()
    not_provided: tuple[dict, ...] = ()
    constants: tuple[dict, ...] = ()
    overrides: tuple[dict, ...] = ()
    exclusions: tuple[ReasonCount, ...] = ()  # records out of scope per scope rule (counted from OUT)
    scope: tuple[dict, ...] = ()  # the run's scope rules (from its summary): name, table, description, condition
    delta: DeltaSummary | None = None  # a delta run's changes since its base run (差分), recounted from OUT
    # the first REJECT_SAMPLES rejects of each reason code, masked (the drill-down of the HTML report)
    reject_samples: tuple[RejectSample, ...] = ()
    item_names: dict[str, str] | None = None  # Japanese names of the items money_totals shows (and groups by)

    @property
    def totals(self) -> dict[str, int]:
        return fate_totals(self.files)

    @property
    def scoped(self) -> bool:
        return bool(self.scope) or self.totals["excluded"] > 0

    @property
    def excluded_by_rule(self) -> dict[str, int]:
        return {c.code: c.records for c in self.exclusions}

    @property
    def reconciled(self) -> bool:
        return (not self.reconciliation_problems and all(f.reconciled for f in self.files)
                and all(c.get("reconciled", True) for c in self.columns))

    @property
    def money_reconciled(self) -> bool:
        return all(m.reconciled for m in self.money_totals)

    @property
    def unmapped_codes(self) -> int:
        return sum(c.unmapped for c in self.coverage)

    @property
    def gaiji_unmapped(self) -> int:
        return sum(g.records for g in self.gaiji if not g.mapped)


@dataclass(frozen=True)
class Volume:
    """Records processed per 業務 (layout) and municipality, and the municipality's share of the
    業務: what a 自治体クラウド group apportions shared costs by."""
    layout: str
    municipality_code: str
    municipality_name: str
    records: int
    share: float


@dataclass(frozen=True)
class ReconciliationReport:
    out: str
    tool_version: str
    municipalities: tuple[MunicipalityReport, ...]
    group: dict | None = None  # OUT/group_summary.json of a group run: id, name, succeeded, failed
    apportionment: dict | None = None  # OUT/apportionment.json (ikou group apportion): 費用按分 per member
    signoffs: tuple[dict, ...] = ()  # OUT/signoffs.json (ikou signoff), each with valid and why (ikou.signoff)

    @property
    def volumes(self) -> tuple[Volume, ...]:
        ordered = [m for layout in sorted({m.layout for m in self.municipalities})
                   for m in self.municipalities if m.layout == layout]
        shares = volume_shares([(m.layout, m.municipality_code, m.totals["source_records"]) for m in ordered])
        return tuple(Volume(layout, code, m.municipality_name, n, share)
                     for m, (layout, code, n, share) in zip(ordered, shares))

    @property
    def totals(self) -> dict[str, int]:
        return {k: sum(m.totals[k] for m in self.municipalities) for k in FATE_COUNTS} | {
            "alerts": sum(a.records for m in self.municipalities for a in m.alerts),
            "unmapped_codes": sum(m.unmapped_codes for m in self.municipalities),
            "gaiji_unmapped": sum(m.gaiji_unmapped for m in self.municipalities),
        }

    @property
    def reconciled(self) -> bool:
        return all(m.reconciled for m in self.municipalities)

    @property
    def money_reconciled(self) -> bool:
        return all(m.money_reconciled for m in self.municipalities)

    @property
    def exit_code(self) -> ExitCode:
        """0 everything reconciles; 1 money does not (金額照合); 3 counts do not (the data in OUT
        cannot be trusted)."""
        if not self.reconciled:
            return ExitCode.INTERNAL
        return ExitCode.OK if self.money_reconciled else ExitCode.OVER_THRESHOLD

    def to_dict(self) -> dict:
        """Stable keys (docs/report.md); derived values included so that readers need no code."""
        def muni(m: MunicipalityReport) -> dict:
            d = asdict(m)
            d["files"] = [asdict(f) | {"reconciled": f.reconciled} for f in m.files]
            d["money_totals"] = [t.to_dict() for t in m.money_totals]
            d["coverage"] = [asdict(c) | {"unmapped_codes": [{"code": k, "records": n} for k, n in c.unmapped_codes]}
                             for c in m.coverage]
            return d | {"totals": m.totals, "reconciled": m.reconciled, "money_reconciled": m.money_reconciled}
        return {"report_format": REPORT_FORMAT_VERSION, "out": self.out, "tool_version": self.tool_version,
                "totals": self.totals, "reconciled": self.reconciled, "money_reconciled": self.money_reconciled,
                "group": self.group, "volumes": [asdict(v) for v in self.volumes],
                "apportionment": self.apportionment, "signoffs": list(self.signoffs),
                "municipalities": [muni(m) for m in self.municipalities]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2) + "\n"


# -- building it from OUT ------------------------------------------------------------------------

@contextmanager
def reading(out: Path, writable: bool | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """OUT's database, read-only, under OUT's lock for as long as it is open (a group's member
    landing meanwhile waits, instead of the reader failing on DuckDB's own lock). A landing
    interrupted after its commit is finished first. A read-only OUT (an archived copy) is read
    without the lock: nothing can land in it (``writable``: whether OUT is, when known; else asked
    of the operating system)."""
    db = out / "ikou.duckdb"
    if not db.is_file():
        raise IkouError(tr("{out} holds no ikou.duckdb", out=out), hint=tr("give the --out folder of an `ikou migrate` run"))
    from ikou.pipeline.landing import STAGING, locked, recover
    writable = os.access(out, os.W_OK) if writable is None else writable
    if not writable and (out / STAGING).is_dir() and any((out / STAGING).iterdir()):
        log.warning("%s is read-only and holds an unfinished landing: read as it is", out)
    with locked(out) if writable else nullcontext():
        if writable:
            for note in recover(out):
                log.warning("%s", note)
        if not db.is_file():  # recovery removed a database no run had committed to
            raise IkouError(tr("{out} holds no committed run (an interrupted first run left nothing)", out=out),
                            hint=tr("run `ikou migrate` first"))
        con = connect(db, read_only=True)
        try:
            yield con
        finally:
            con.close()


def latest_runs(con: duckdb.DuckDBPyConnection) -> list[dict]:
    if not con.execute("select count(*) from information_schema.tables where table_name = 'runs'").fetchall()[0][0]:
        return []  # no run ever committed
    rows = con.execute(
        "select run_id, municipality_code, layout, tool_version, mapping_path, mapping_sha256, "
        "strftime(finished_at, '%Y-%m-%dT%H:%M:%S') as finished_at, exit_code, summary from runs "
        "qualify row_number() over (partition by municipality_code, layout order by finished_at desc, run_id desc) = 1 "
        "order by municipality_code, layout").fetchall()
    cols = ["run_id", "municipality_code", "layout", "tool_version", "mapping_path", "mapping_sha256", "finished_at",
            "exit_code", "summary"]
    return [dict(zip(cols, r)) for r in rows]


def build_report(out: Path, municipality: str | None = None) -> ReconciliationReport:
    """The report over OUT (one municipality if ``municipality`` is given)."""
    with reading(out) as con:
        runs = every_latest = latest_runs(con)
        if municipality is not None:
            runs = [r for r in runs if r["municipality_code"] == municipality]
            if not runs:
                raise IkouError(tr("{out} holds no run of municipality {municipality}",
                                   out=out, municipality=municipality),
                                hint=tr("ikou report OUT without --municipality lists what it holds"))
        if not runs:
            raise IkouError(tr("{out}/ikou.duckdb holds no committed run", out=out), hint=tr("run `ikou migrate` first"))
        tables = {r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()}
        sections = tuple(_municipality(con, tables, run, out) for run in runs)
        group = None
        if (out / "group_summary.json").exists():
            g = json.loads((out / "group_summary.json").read_text(encoding="utf-8"))
            group = {k: g.get(k) for k in ("group", "name", "succeeded", "failed")}
        apportionment = None
        if (out / "apportionment.json").exists():
            apportionment = json.loads((out / "apportionment.json").read_text(encoding="utf-8"))
        from ikou.signoff import statuses
        layouts = {r["layout"]: run_layout(out, r, RunSummary.from_json(r["summary"]) if r["summary"] else None)
                   for r in every_latest}
        signoffs = tuple(s for s in statuses(con, out, every_latest,
                                             lambda lay: list(layouts[lay].tables) if layouts.get(lay) else [])
                         if municipality in (None, s["municipality_code"]))
    return ReconciliationReport(out=out.name, tool_version=__version__, municipalities=sections, group=group,
                                apportionment=apportionment, signoffs=signoffs)


def run_layout(out: Path, run: dict, summary: RunSummary | None) -> Layout | None:
    """The run's layout: the copy kept in OUT as the run used it (OUT/layouts/), else the bundled
    one of that name, else the one its mapping names. None when none can be read: the report then
    shows ids without Japanese names, hash totals or sums."""
    kept = out / summary.layout_file if summary is not None and summary.layout_file else None
    if kept is not None and kept.is_file():
        try:
            return parse_layout(kept.read_text(encoding="utf-8"), str(kept))
        except IkouError:
            pass
    try:
        return load_layout(run["layout"])
    except IkouError:
        pass
    try:
        from ikou.mapping import load_mapping
        return load_mapping(run["mapping_path"]).layout
    except (IkouError, OSError, TypeError):
        return None


def _names(layout: Layout | None) -> dict[str, str]:
    if layout is None:
        return {}
    return {it.id: it.name_ja for t in layout.tables.values() for it in t.items}


def _municipality(con: duckdb.DuckDBPyConnection, tables: set[str], run: dict, out: Path) -> MunicipalityReport:
    summary = RunSummary.from_json(run["summary"]) if run["summary"] else None
    layout = run_layout(out, run, summary)
    ja = _names(layout)
    code, run_id = run["municipality_code"], run["run_id"]
    where = "where municipality_code = ? and run_id = ?"

    def grouped(table: str, code_col: str, extra: str = "") -> tuple[ReasonCount, ...]:
        if table not in tables:
            return ()
        rows = con.execute(f"select {code_col}, item, count(*) from {table} {where} {extra} group by all "
                           f"order by count(*) desc, {code_col}, item nulls first", [code, run_id]).fetchall()
        return tuple(ReasonCount(c, i, ja.get(i), n) for c, i, n in rows)

    files = summary.files if summary else ()
    merges: tuple[ReasonCount, ...] = ()
    if "lineage" in tables:
        cols = {r[0] for r in con.execute("describe lineage").fetchall()}
        reason = "merge_reason" if "merge_reason" in cols else "'exact_duplicate'"
        rows = con.execute(f"select {reason}, count(*) from lineage {where} and fate = 'merged' group by all "
                           "order by 2 desc, 1", [code, run_id]).fetchall()
        merges = tuple(ReasonCount(r, None, None, n) for r, n in rows)
    exclusions: tuple[ReasonCount, ...] = ()
    if "excluded" in tables:
        rows = con.execute(f"select scope_rule, count(*) from excluded {where} group by all order by 2 desc, 1",
                           [code, run_id]).fetchall()
        exclusions = tuple(ReasonCount(r, None, None, n) for r, n in rows)
    coverage: list[Coverage] = []
    if "code_coverage" in tables:
        rows = con.execute(
            f"select code_table, item, count(*) filter (status = 'used'), count(*) filter (status = 'unused'), "
            f"count(*) filter (status = 'unmapped'), "
            f"list((legacy_code, records) order by records desc, legacy_code) filter (status = 'unmapped') "
            f"from code_coverage {where} group by all order by code_table, item", [code, run_id]).fetchall()
        for t, i, used, unused, unmapped, codes in rows:
            coverage.append(Coverage(t, i, ja.get(i), used, unused, unmapped, _pairs(codes or ())))
    gaiji: tuple[Gaiji, ...] = ()
    if "gaiji_counts" in tables:
        rows = con.execute(f"select code, item, sum(records)::bigint, bool_or(mapped), any_value(replacement) "
                           f"from gaiji_counts {where} group by code, item order by code, item", [code, run_id]).fetchall()
        gaiji = tuple(Gaiji(c, i, ja.get(i), n, bool(m), r) for c, i, n, m, r in rows)
    normalisations: tuple[Normalisation, ...] = ()
    if "cleansing_changes" in tables:
        rows = con.execute(f"select item, rule, count(*) from (select item, unnest(string_split(rules, '+')) as rule "
                           f"from cleansing_changes {where}) group by all order by item, rule", [code, run_id]).fetchall()
        normalisations = tuple(Normalisation(i, ja.get(i), r, n) for i, r, n in rows)
    hashes: list[HashTotal] = []
    sums: list[MoneySum] = []
    if layout is not None:
        for table in layout.tables.values():
            if table.id in tables:
                hashes += hash_totals(con, table, f'"{table.id}"', code, ja)
                sums += money_sums(con, table, f'"{table.id}"', code, ja)
    problems = list(summary.reconciliation_problems if summary else ()) + _recount(con, tables, layout, run, files, out)
    problems += recount_delta(con, tables, run_id, code, summary.delta if summary else None)
    samples: tuple[RejectSample, ...] = ()
    if "rejects" in tables:
        rows = con.execute(
            f"select reason_code, item, source_file, source_line, byte_offset, {mask_number_like_sql('message')}, "
            f"{mask_number_like_sql('raw_record')} from rejects {where} "
            f"qualify row_number() over (partition by reason_code order by source_file, source_line, byte_offset) "
            f"<= {REJECT_SAMPLES} order by reason_code, source_file, source_line, byte_offset",
            [code, run_id]).fetchall()
        samples = tuple(RejectSample(r, i, ja.get(i), f, line, off, msg, raw) for r, i, f, line, off, msg, raw in rows)
    money = summary.money if summary else ()
    shown = {i for t in money for i in (t.item, *t.by)}
    review = 0
    if "review_queue" in tables:
        review = con.execute(f"select count(*) from review_queue {where}", [code, run_id]).fetchall()[0][0]
    return MunicipalityReport(
        municipality_code=code, municipality_name=summary.municipality_name if summary else "", layout=run["layout"],
        layout_ja=layout.name_ja if layout else "", run_id=run_id, tool_version=run["tool_version"] or "",
        mapping_path=run["mapping_path"] or "", mapping_sha256=run["mapping_sha256"] or "",
        finished_at=run["finished_at"] or "", run_exit_code=int(run["exit_code"] or 0), files=files,
        rejects=grouped("rejects", "reason_code"), alerts=grouped("alerts", "alert_code"), merges=merges,
        coverage=tuple(coverage), gaiji=gaiji, normalisations=normalisations, hash_totals=tuple(hashes),
        money_sums=tuple(sums), review_pairs=int(review),
        reconciliation_problems=tuple(problems),
        money_totals=money, columns=summary.columns if summary else (),
        not_provided=summary.not_provided if summary else (), constants=summary.constants if summary else (),
        overrides=summary.overrides if summary else (), exclusions=exclusions,
        scope=summary.scope if summary else (), delta=summary.delta if summary else None,
        reject_samples=samples, item_names={i: ja[i] for i in sorted(shown) if i in ja} or None)


def _recount(con: duckdb.DuckDBPyConnection, tables: set[str], layout: Layout | None, run: dict,
             files: tuple[FileCount, ...], out: Path) -> list[str]:
    """The run's fates counted again from what OUT holds (never taken from the summary the run
    wrote about itself): per file, lineage's landed and merged records and the rejects; the layout
    tables' rows of the municipality, in DuckDB and in the Parquet partitions, against lineage.
    Each difference is a problem: OUT was changed after the run, and cannot be trusted."""
    code, run_id = run["municipality_code"], run["run_id"]
    counts: dict[str, list[int]] = {}
    if "lineage" in tables:
        for f, fate, n in con.execute("select source_file, fate, count(*) from lineage where municipality_code = ? "
                                      "and run_id = ? group by all", [code, run_id]).fetchall():
            counts.setdefault(f, [0, 0, 0, 0])[0 if fate == "landed" else 2] += n
    for table, at in (("rejects", 1), ("excluded", 3)):
        if table in tables:
            for f, n in con.execute(f"select source_file, count(*) from {table} where municipality_code = ? and "
                                    "run_id = ? group by all", [code, run_id]).fetchall():
                counts.setdefault(f, [0, 0, 0, 0])[at] += n
    problems = []
    counted: dict[str, list[int]] = {}  # by path: the sources that read one file, added up
    for f in files:
        total = counted.setdefault(f.path, [0, 0, 0, 0])
        for k, n in enumerate((f.landed, f.rejected, f.merged, f.excluded)):
            total[k] += n
    for path, want in counted.items():
        got = counts.pop(path, [0, 0, 0, 0])
        if got != want:
            problems.append(tr("{path}: the run counted {landed} landed, {rejected} rejected, {merged} merged, "
                               "{excluded} excluded; OUT now holds {value}, {value2}, {value3}, {value4}",
                               path=path, landed=want[0], rejected=want[1], merged=want[2],
                               excluded=want[3], value=got[0], value2=got[1], value3=got[2], value4=got[3]))
    for f, got in sorted(counts.items()):
        problems.append(tr("{f}: OUT holds records of this file ({value} landed, {value2} rejected, {value3} "
                           "merged, {value4} excluded) that the run's summary does not list",
                           f=f, value=got[0], value2=got[1], value3=got[2], value4=got[3]))
    if layout is None:
        return problems
    landed = sum(f.landed for f in files)
    in_db = in_parquet = 0
    for table in layout.tables.values():
        if table.id in tables:
            in_db += con.execute(f'select count(*) from "{table.id}" where municipality_code = ?',
                                 [code]).fetchall()[0][0]
        part = out / "parquet" / table.id / f"municipality_code={code}"
        parts = sorted(str(p) for p in part.glob("*.parquet")) if part.is_dir() else []
        if parts:
            in_parquet += con.execute("select count(*) from read_parquet(?)", [parts]).fetchall()[0][0]
    if in_db != landed:
        problems.append(tr("the {id} tables in ikou.duckdb hold {in_db} rows of municipality {code}, but the "
                           "run landed {landed}",
                           id=layout.id, in_db=in_db, code=code, landed=landed))
    if in_parquet != landed:
        problems.append(tr("the {id} Parquet partitions hold {in_parquet} rows of municipality {code}, but the "
                           "run landed {landed}",
                           id=layout.id, in_parquet=in_parquet, code=code, landed=landed))
    return problems


def _pairs(codes) -> tuple[tuple[str, int], ...]:
    """DuckDB returns an unnamed struct as a dict with generated keys or as a tuple."""
    return tuple((str(v[0]), int(v[1])) for v in (list(c.values()) if isinstance(c, dict) else list(c) for c in codes))

"""The run summary: a frozen object built once from a run's outputs, rendered as text and JSON.
The CLI's exit code reads the same object. It never holds a personal value: only counts, codes
and masked examples.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ikou.delta_counts import DeltaSummary
from ikou.errors import ExitCode
from ikou.i18n import tr
from ikou.mapping import Thresholds


@dataclass(frozen=True)
class FileCount:
    path: str
    sha256: str
    size: int
    source_records: int
    landed: int
    rejected: int
    merged: int
    skipped_rows: int = 0
    excluded: int = 0  # out of the migration's scope (a scope rule)
    blank_records: int = 0
    padded_records: int = 0  # fixed-width records padded with spaces (short_records: pad)
    findings: tuple[str, ...] = ()  # the export disagrees with itself (e.g. its trailer's count)
    source: str = ""  # the mapping source that read it (two sources may read one file)

    @property
    def reconciled(self) -> bool:
        return self.source_records == self.landed + self.rejected + self.merged + self.excluded


def path_labels(pairs: list[tuple[str, str]]) -> list[str]:
    """How a report names each (path, source) read: its path, and the source where two sources
    read one file (a copybook's record views)."""
    paths = [path for path, _ in pairs]
    return [f"{path} ({source})" if source and paths.count(path) > 1 else path for path, source in pairs]


def file_labels(files) -> list[str]:
    """``path_labels`` of FileCounts."""
    return path_labels([(f.path, f.source) for f in files])


FATE_COUNTS = ("source_records", "landed", "rejected", "merged", "excluded")  # source = the other four


def fate_totals(files) -> dict[str, int]:
    """The record counts of several files (FileCount) summed."""
    return {k: sum(getattr(f, k) for f in files) for k in FATE_COUNTS}


@dataclass(frozen=True)
class CoverageCount:
    code_table: str
    item: str
    used: int
    unused: int
    unmapped: int
    unmapped_codes: tuple[tuple[str, int], ...] = ()  # (legacy code, records)


@dataclass(frozen=True)
class MoneyFlow:
    """金額照合 of one money item in one group (the layout's money_totals_by, e.g. 年度, 税目): the
    sum in yen over every parsed source record, and over the landed, rejected, merged and excluded ones.
    Records whose amount is not a whole number are counted, not summed."""
    table: str
    item: str
    by: dict[str, Any]  # group item -> value
    source: int
    landed: int
    rejected: int
    merged: int
    unparsed_records: int = 0
    excluded: int = 0

    @property
    def reconciled(self) -> bool:
        return self.source == self.landed + self.rejected + self.merged + self.excluded

    def to_dict(self) -> dict:
        return asdict(self) | {"reconciled": self.reconciled}

    @classmethod
    def from_dict(cls, d: dict) -> MoneyFlow:
        return cls(d["table"], d["item"], dict(d.get("by") or {}), d["source"], d["landed"], d["rejected"],
                   d["merged"], d.get("unparsed_records", 0), d.get("excluded", 0))


@dataclass(frozen=True)
class DedupDecisionsUsed:
    """Reviewers' decisions (名寄せ判定) read for a run: applied as same, as different, or no longer
    applicable (a record of the pair has changed)."""
    same: int = 0
    different: int = 0
    stale: int = 0


@dataclass(frozen=True)
class DedupOutcome:
    """What probabilistic dedup (名寄せ) did on one table: persons compared, pairs scored, records
    merged, pairs queued for review, and the settings it ran with."""
    table: str
    backend: str
    persons_compared: int
    pairs_scored: int
    auto_merge: float
    review: float
    merged_records: int
    merged_persons: int
    clusters: int
    review_pairs: int
    decisions: DedupDecisionsUsed = DedupDecisionsUsed()
    training_skipped: tuple[str, ...] = ()  # comparisons not trained: too few likely duplicates there
    decisions_file: str | None = None
    seconds: float = 0.0
    method: str = "probabilistic"

    def to_dict(self) -> dict:
        return asdict(self) | {"training_skipped": list(self.training_skipped)}

    @classmethod
    def from_dict(cls, d: dict) -> DedupOutcome:
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in d.items() if k in names}
        values["decisions"] = DedupDecisionsUsed(**(d.get("decisions") or {}))
        values["training_skipped"] = tuple(d.get("training_skipped", ()))
        return cls(**values)


def volume_shares(entries: list[tuple[str, str, int]]) -> list[tuple[str, str, int, float]]:
    """(layout, municipality code, records) -> the same with each municipality's share of its
    業務's records (rounded to 6 places): what a 自治体クラウド group apportions shared costs by.
    One function for the group summary and the report, so that both show the same shares."""
    totals: dict[str, int] = {}
    for layout, _, n in entries:
        totals[layout] = totals.get(layout, 0) + n
    return [(layout, code, n, round(n / totals[layout], 6) if totals[layout] else 0.0) for layout, code, n in entries]


@dataclass(frozen=True)
class RuleCount:
    """Records one validation rule caught: a reject reason or an alert code, on one item, with
    the first places it was found (file:line)."""
    kind: str  # reject | alert
    code: str
    item: str | None
    records: int
    examples: tuple[str, ...] = ()


@dataclass(frozen=True)
class ThresholdCheck:
    """One limit of the mapping's (or the command line's) thresholds, and whether the run kept it."""
    name: str  # e.g. max_reject_rate, rules.check_digit
    limit: float | int
    actual: float | int
    passed: bool


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    tool_version: str
    municipality_code: str
    municipality_name: str
    layout: str
    mapping_path: str
    mapping_sha256: str
    dry_run: bool
    files: tuple[FileCount, ...]
    alerts: dict[str, int]
    rejects_by_reason: dict[str, int]
    merged_by_reason: dict[str, int]
    changes_by_rule: dict[str, int]
    coverage: tuple[CoverageCount, ...]
    reconciliation_problems: tuple[str, ...]
    thresholds: Thresholds
    timings: dict[str, float] = field(default_factory=dict)
    gaiji_mapped: dict[str, int] = field(default_factory=dict)  # 外字 code -> occurrences replaced by the table
    gaiji_unmapped: dict[str, int] = field(default_factory=dict)  # 外字 code -> occurrences kept and reported
    gaiji_table: str | None = None
    dedup: tuple[DedupOutcome, ...] = ()  # probabilistic dedup per table: pairs scored, merged, review queue
    rules: tuple[RuleCount, ...] = ()  # per reject reason / alert code and item, with examples
    notes: tuple[str, ...] = ()  # what the run could not check (e.g. references in a dry run without OUT)
    money: tuple[MoneyFlow, ...] = ()  # 金額照合 per money item and group: source, landed, rejected, merged
    # every column of every file: its fate (mapped, kept, dropped, structural) and, for mapped and
    # kept ones, its values: source = landed + rejected + merged + cleared by rule (pipeline/values.py)
    columns: tuple[dict, ...] = ()
    overrides: tuple[dict, ...] = ()  # the layout's checks this mapping turned off or moved (table, item, check, from, to)
    layout_sha256: str = ""
    layout_file: str = ""  # OUT/<layout_file>: the layout as the run used it
    not_provided: tuple[dict, ...] = ()  # items the export lacks: table, item, reason (they land empty)
    constants: tuple[dict, ...] = ()  # items given a constant by the mapping: table, item, value
    # sha256 of the mapping, layout, 外字 table, decisions and lookups (pipeline/state.config_hashes)
    config_sha256: dict = field(default_factory=dict)
    excluded_by_rule: dict[str, int] = field(default_factory=dict)  # scope rule -> records excluded
    scope: tuple[dict, ...] = ()  # the mapping's scope rules: name, table, description, condition (as text)
    delta: DeltaSummary | None = None  # a delta run (--delta-from): what changed since the base run

    @property
    def money_problems(self) -> list[str]:
        return [tr("{table}.{item} {by}: source {source:,} yen but landed {landed:,} + rejected {rejected:,} + "
                   "merged {merged:,} + excluded {excluded:,}",
                   table=m.table, item=m.item, by=m.by, source=m.source, landed=m.landed, rejected=m.rejected,
                   merged=m.merged, excluded=m.excluded) for m in self.money if not m.reconciled]

    @property
    def totals(self) -> dict[str, int]:
        return fate_totals(self.files)

    @property
    def scoped(self) -> bool:
        """The run has a scope (rules declared, or records excluded): outputs show the fifth fate."""
        return bool(self.scope) or self.totals["excluded"] > 0

    @property
    def reconciled(self) -> bool:
        return not self.reconciliation_problems and all(f.reconciled for f in self.files)

    @property
    def reject_rate(self) -> float:
        """Rejects among the records in scope (an excluded record is not migrated: it cannot fail to be)."""
        t = self.totals
        in_scope = t["source_records"] - t["excluded"]
        return t["rejected"] / in_scope if in_scope else 0.0

    @property
    def alert_count(self) -> int:
        return sum(self.alerts.values())

    @property
    def alert_rate(self) -> float:
        n = self.totals["source_records"]
        return self.alert_count / n if n else 0.0

    @property
    def threshold_checks(self) -> tuple[ThresholdCheck, ...]:
        th, t, out = self.thresholds, self.totals, []
        for name, limit, actual in (("max_reject_rate", th.max_reject_rate, self.reject_rate),
                                    ("max_rejects", th.max_rejects, t["rejected"]),
                                    ("max_alert_rate", th.max_alert_rate, self.alert_rate),
                                    ("max_alerts", th.max_alerts, self.alert_count)):
            if limit is not None:
                out.append(ThresholdCheck(name, limit, actual, actual <= limit))
        by_code: dict[str, int] = {}
        for r in self.rules:
            by_code[r.code] = by_code.get(r.code, 0) + r.records
        for code, limit in th.rules:
            out.append(ThresholdCheck(f"rules.{code}", limit, by_code.get(code, 0), by_code.get(code, 0) <= limit))
        return tuple(out)

    @property
    def over_threshold(self) -> bool:
        return any(not c.passed for c in self.threshold_checks)

    @property
    def findings(self) -> list[str]:
        """What the run found wrong with the export as a whole: each file's own findings, and a run
        that landed nothing of what it read (without a threshold in the mapping, a CI job would
        pass on it)."""
        t = self.totals
        nothing = ([f"no record landed: all {t['source_records']:,} source records were rejected or merged"]
                   if t["source_records"] - t["excluded"] and not t["landed"] else [])
        return [x for f in self.files for x in f.findings] + nothing

    @property
    def exit_code(self) -> ExitCode:
        if not self.reconciled:
            return ExitCode.INTERNAL
        return (ExitCode.OVER_THRESHOLD if self.over_threshold or self.findings or self.money_problems
                else ExitCode.OK)

    def to_dict(self) -> dict:
        return {
            "run_id": self.run_id,
            "tool_version": self.tool_version,
            "municipality_code": self.municipality_code,
            "municipality_name": self.municipality_name,
            "layout": self.layout,
            "layout_sha256": self.layout_sha256,
            "layout_file": self.layout_file,
            "mapping": {"path": self.mapping_path, "sha256": self.mapping_sha256},
            "config_sha256": dict(self.config_sha256),
            "overrides": [dict(o) for o in self.overrides],
            "dry_run": self.dry_run,
            "files": [{"path": f.path, "source": f.source, "sha256": f.sha256, "size": f.size, "source_records": f.source_records,
                       "landed": f.landed, "rejected": f.rejected, "merged": f.merged, "excluded": f.excluded,
                       "skipped_rows": f.skipped_rows, "blank_records": f.blank_records,
                       "padded_records": f.padded_records,
                       "findings": list(f.findings), "reconciled": f.reconciled} for f in self.files],
            "file_findings": self.findings,
            "totals": self.totals,
            "alerts": {"total": sum(self.alerts.values()), "by_code": dict(sorted(self.alerts.items()))},
            "rejects_by_reason": dict(sorted(self.rejects_by_reason.items())),
            "merged_by_reason": dict(sorted(self.merged_by_reason.items())),
            "excluded_by_rule": dict(sorted(self.excluded_by_rule.items())),
            "scope": [dict(r) for r in self.scope],
            "dedup": [d.to_dict() for d in self.dedup],
            "cleansing_changes_by_rule": dict(sorted(self.changes_by_rule.items())),
            "code_coverage": [asdict(c) | {"unmapped_codes": [list(x) for x in c.unmapped_codes]}
                              for c in self.coverage],
            "gaiji": {"table": self.gaiji_table, "mapped": self.gaiji_mapped, "unmapped": self.gaiji_unmapped},
            "rules": [asdict(r) | {"examples": list(r.examples)} for r in self.rules],
            "notes": list(self.notes),
            "money": [m.to_dict() for m in self.money],
            "columns": [dict(c) for c in self.columns],
            "columns_reconciled": all(c.get("reconciled", True) for c in self.columns),
            "not_provided": [dict(n) for n in self.not_provided],
            "constants": [dict(c) for c in self.constants],
            "money_reconciled": not self.money_problems,
            "thresholds": {"max_reject_rate": self.thresholds.max_reject_rate, "max_rejects": self.thresholds.max_rejects,
                           "max_alert_rate": self.thresholds.max_alert_rate, "max_alerts": self.thresholds.max_alerts,
                           "rules": dict(self.thresholds.rules),
                           "reject_rate": round(self.reject_rate, 6), "alert_rate": round(self.alert_rate, 6),
                           "checks": [asdict(c) | {"actual": round(c.actual, 6)} for c in self.threshold_checks],
                           "over_threshold": self.over_threshold},
            "delta": self.delta.to_dict() if self.delta else None,
            "reconciled": self.reconciled,
            "reconciliation_problems": list(self.reconciliation_problems),
            "exit_code": int(self.exit_code),
            "timings_seconds": {k: round(v, 3) for k, v in self.timings.items()},
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2) + "\n"

    @classmethod
    def from_dict(cls, d: dict) -> RunSummary:
        """The summary ``to_dict`` wrote, read back (what it derives, e.g. totals and exit code, is
        derived again). A key an older ikou did not write takes its default: ``ikou report`` reads
        the summaries of every run OUT holds."""
        th = d.get("thresholds") or {}
        return cls(
            run_id=d["run_id"], tool_version=d.get("tool_version", ""), municipality_code=d["municipality_code"],
            municipality_name=d.get("municipality_name", ""), layout=d.get("layout", ""),
            mapping_path=(d.get("mapping") or {}).get("path", ""), mapping_sha256=(d.get("mapping") or {}).get("sha256", ""),
            dry_run=bool(d.get("dry_run", False)),
            files=tuple(FileCount(path=f["path"], sha256=f.get("sha256", ""), size=f.get("size", 0),
                                  source_records=f["source_records"], landed=f["landed"], rejected=f["rejected"],
                                  merged=f["merged"], excluded=f.get("excluded", 0), skipped_rows=f.get("skipped_rows", 0),
                                  blank_records=f.get("blank_records", 0), padded_records=f.get("padded_records", 0),
                                  findings=tuple(f.get("findings", ())), source=f.get("source", ""))
                  for f in d.get("files", ())),
            alerts=dict((d.get("alerts") or {}).get("by_code", {})),
            rejects_by_reason=dict(d.get("rejects_by_reason", {})), merged_by_reason=dict(d.get("merged_by_reason", {})),
            changes_by_rule=dict(d.get("cleansing_changes_by_rule", {})),
            coverage=tuple(CoverageCount(c["code_table"], c["item"], c["used"], c["unused"], c["unmapped"],
                                         tuple((code, n) for code, n in c.get("unmapped_codes", ())))
                           for c in d.get("code_coverage", ())),
            reconciliation_problems=tuple(d.get("reconciliation_problems", ())),
            thresholds=Thresholds(max_reject_rate=th.get("max_reject_rate"), max_rejects=th.get("max_rejects"),
                                  max_alert_rate=th.get("max_alert_rate"), max_alerts=th.get("max_alerts"),
                                  rules=tuple((th.get("rules") or {}).items())),
            timings=dict(d.get("timings_seconds", {})),
            gaiji_mapped=dict((d.get("gaiji") or {}).get("mapped", {})),
            gaiji_unmapped=dict((d.get("gaiji") or {}).get("unmapped", {})),
            gaiji_table=(d.get("gaiji") or {}).get("table"),
            dedup=tuple(DedupOutcome.from_dict(x) for x in d.get("dedup", ())),
            rules=tuple(RuleCount(r["kind"], r["code"], r["item"], r["records"], tuple(r.get("examples", ())))
                        for r in d.get("rules", ())),
            notes=tuple(d.get("notes", ())), money=tuple(MoneyFlow.from_dict(m) for m in d.get("money", ())), columns=tuple(d.get("columns", ())),
            overrides=tuple(d.get("overrides", ())), layout_sha256=d.get("layout_sha256", ""),
            layout_file=d.get("layout_file", ""), not_provided=tuple(d.get("not_provided", ())),
            constants=tuple(d.get("constants", ())), config_sha256=dict(d.get("config_sha256") or {}),
            excluded_by_rule=dict(d.get("excluded_by_rule") or {}), scope=tuple(d.get("scope", ())),
            delta=DeltaSummary.from_dict(d.get("delta")))

    @classmethod
    def from_json(cls, text: str) -> RunSummary:
        return cls.from_dict(json.loads(text))

    def render_text(self) -> str:
        """What ``ikou migrate`` and ``ikou validate`` print (ikou/summary_text.py)."""
        from ikou.summary_text import render_summary

        return render_summary(self)

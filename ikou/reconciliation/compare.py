"""Two runs of one municipality and 業務 side by side (移行リハーサルの比較): ``ikou report OUT
--compare RUN_A RUN_B``. A team rehearses a migration several times; between rehearsals the
export, the mapping or ikou changed, and what matters is what that did to the outcome.

Read from the ``runs`` table, which keeps every run's summary (the run tables keep only the
latest run's rows): records per fate and per file, rejects per reason, alerts per code, merges
per reason, exclusions per scope rule, cleansing per rule, code coverage (unmapped codes per
code table and item, codes newly unmapped) and 金額照合 (source and landed yen per item and group).
A frozen comparison object, rendered as text and JSON.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from ikou.errors import ExitCode, IkouError
from ikou.i18n import tr
from ikou.report import FATE_COUNTS, RunSummary, file_labels
from ikou.textwidth import pad_display


@dataclass(frozen=True)
class Change:
    """One compared count: its section (totals, file, reject, alert …), what it counts, A and B."""
    section: str
    key: str
    a: int | None  # None: the run has no such entry (a file only one run read)
    b: int | None

    @property
    def delta(self) -> int:
        return (self.b or 0) - (self.a or 0)


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    finished_at: str
    tool_version: str
    mapping_path: str
    mapping_sha256: str
    exit_code: int
    reconciled: bool


@dataclass(frozen=True)
class RunComparison:
    municipality_code: str
    municipality_name: str
    layout: str
    a: RunInfo
    b: RunInfo
    changes: tuple[Change, ...]
    newly_unmapped: tuple[str, ...]  # code_table.item=code unmapped in B but not in A
    no_longer_unmapped: tuple[str, ...]

    @property
    def mapping_changed(self) -> bool:
        return self.a.mapping_sha256 != self.b.mapping_sha256

    @property
    def changed(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.a != c.b)

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK  # a comparison reports; it judges neither run

    def to_dict(self) -> dict:
        return {"municipality_code": self.municipality_code, "municipality_name": self.municipality_name,
                "layout": self.layout, "a": asdict(self.a), "b": asdict(self.b),
                "mapping_changed": self.mapping_changed,
                "changes": [asdict(c) | {"delta": c.delta} for c in self.changes],
                "newly_unmapped": list(self.newly_unmapped), "no_longer_unmapped": list(self.no_longer_unmapped)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2) + "\n"


def compare_runs(out: Path, run_a: str, run_b: str) -> RunComparison:
    from ikou.reconciliation.model import reading

    with reading(out) as con:
        found = {}
        for wanted in (run_a, run_b):
            rows = con.execute("select run_id, strftime(finished_at, '%Y-%m-%dT%H:%M:%S'), summary from runs "
                               "where run_id = ? or run_id like ? order by run_id", [wanted, f"{wanted}%"]).fetchall()
            exact = [r for r in rows if r[0] == wanted]
            rows = exact or rows
            if len(rows) != 1:
                raise IkouError(tr("{out} holds {value} run(s) matching {wanted!r}",
                                   out=out, value='no' if not rows else len(rows), wanted=wanted),
                                problems=[r[0] for r in rows[:10]],
                                hint=tr("give a run id as `ikou report OUT --format json` or the runs table "
                                        "shows it (a unique prefix is enough)"))
            found[wanted] = rows[0]
    (ida, fa, sa), (idb, fb, sb) = found[run_a], found[run_b]
    a, b = RunSummary.from_json(sa), RunSummary.from_json(sb)
    if (a.municipality_code, a.layout) != (b.municipality_code, b.layout):
        raise IkouError(tr("runs {ida} ({municipality_code}, {layout}) and {idb} ({municipality_code2}, "
                           "{layout2}) are not of the same municipality and 業務",
                           ida=ida, municipality_code=a.municipality_code, layout=a.layout, idb=idb,
                           municipality_code2=b.municipality_code, layout2=b.layout),
                        hint=tr("compare two rehearsals of one municipality's migration of one layout"))
    return RunComparison(a.municipality_code, a.municipality_name or b.municipality_name, a.layout,
                         _info(a, fa), _info(b, fb), tuple(_changes(a, b)), *_unmapped(a, b))


def _info(s: RunSummary, finished: str) -> RunInfo:
    return RunInfo(s.run_id, finished or "", s.tool_version, s.mapping_path, s.mapping_sha256, int(s.exit_code),
                   s.reconciled)


def _changes(a: RunSummary, b: RunSummary) -> list[Change]:
    out = [Change("totals", k, a.totals[k], b.totals[k]) for k in FATE_COUNTS]
    out += [Change("alerts", "total", a.alert_count, b.alert_count)]

    def side_by_side(section: str, da: dict, db: dict) -> list[Change]:
        return [Change(section, k, da.get(k), db.get(k)) for k in sorted(set(da) | set(db))]
    files_a, files_b = ({label.replace("\\", "/").rsplit("/", 1)[-1]: f for f, label in zip(s.files, file_labels(s.files))}
                        for s in (a, b))
    if set(files_a) != set(files_b) and len(files_a) == len(files_b) == 1:
        # one file each, named by its export date (JUMIN_991015_20261101.csv): the same export
        ((na, fa),), ((nb, fb),) = files_a.items(), files_b.items()
        files_a, files_b = {f"{na} / {nb}": fa}, {f"{na} / {nb}": fb}
    for name in sorted(set(files_a) | set(files_b)):
        fa, fb = files_a.get(name), files_b.get(name)
        for k in FATE_COUNTS:
            out.append(Change("file", f"{name}: {k}", getattr(fa, k) if fa else None, getattr(fb, k) if fb else None))
    out += side_by_side("reject", a.rejects_by_reason, b.rejects_by_reason)
    out += side_by_side("alert", a.alerts, b.alerts)
    out += side_by_side("merged", a.merged_by_reason, b.merged_by_reason)
    out += side_by_side("excluded", a.excluded_by_rule, b.excluded_by_rule)
    out += side_by_side("cleansing", a.changes_by_rule, b.changes_by_rule)
    cov = {s: {f"{c.code_table}.{c.item}": c.unmapped for c in x.coverage} for s, x in (("a", a), ("b", b))}
    out += side_by_side("unmapped codes", cov["a"], cov["b"])
    money = {}
    for side, s in (("a", a), ("b", b)):
        for m in s.money:
            key = f"{m.table}.{m.item} " + ", ".join(f"{k}={v}" for k, v in m.by.items())
            money.setdefault(key, {})[side] = m
    for key in sorted(money):
        ma, mb = money[key].get("a"), money[key].get("b")
        for k in ("source", "landed"):
            out.append(Change("money (yen)", f"{key}: {k}", getattr(ma, k) if ma else None,
                              getattr(mb, k) if mb else None))
    return out


def _unmapped(a: RunSummary, b: RunSummary) -> tuple[tuple[str, ...], tuple[str, ...]]:
    def codes(s: RunSummary) -> set[str]:
        return {f"{c.code_table}.{c.item}={code}" for c in s.coverage for code, _ in c.unmapped_codes}
    ca, cb = codes(a), codes(b)
    return tuple(sorted(cb - ca)), tuple(sorted(ca - cb))


def render_comparison(c: RunComparison, changed_only: bool = False) -> str:
    """Text: both runs, then every count side by side with its difference (``changed_only``: the
    counts that differ)."""
    lines = [f"comparison of two runs: {c.municipality_name} ({c.municipality_code}), layout {c.layout}", ""]
    for label, r in (("A", c.a), ("B", c.b)):
        lines.append(f"  {label}  {r.run_id}  finished {r.finished_at}  ikou {r.tool_version}  exit code {r.exit_code}"
                     f"  {'reconciled' if r.reconciled else 'NOT RECONCILED'}")
        lines.append(f"     mapping {r.mapping_path} sha256 {r.mapping_sha256[:16]}…")
    lines.append("  the mapping changed between the runs" if c.mapping_changed else "  same mapping (sha256)")
    rows = c.changed if changed_only else c.changes
    width = max([len("count")] + [len(x.key) for x in rows])
    section = None
    for x in rows:
        if x.section != section:
            section = x.section
            lines += ["", f"{section}:", f"  {pad_display('count', width)}  {'A':>14}  {'B':>14}  {'B - A':>12}"]
        show = (lambda v: "-" if v is None else f"{v:,}")
        lines.append(f"  {pad_display(x.key, width)}  {show(x.a):>14}  {show(x.b):>14}  "
                     + (f"{x.delta:>+12,}" if x.delta else f"{'':>12}"))
    if c.newly_unmapped:
        lines += ["", "legacy codes unmapped in B but not in A:", *[f"  {x}" for x in c.newly_unmapped]]
    if c.no_longer_unmapped:
        lines += ["", "legacy codes unmapped in A, mapped (or absent) in B:", *[f"  {x}" for x in c.no_longer_unmapped]]
    if not c.changed and not c.newly_unmapped and not c.no_longer_unmapped:
        lines += ["", "no count differs between the two runs"]
    return "\n".join(lines) + "\n"

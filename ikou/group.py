"""自治体クラウド group runs: several municipalities on one shared system migrate together, each
from its own legacy vendor, into one OUT (partitioned by municipality code).

A group file (YAML, docs/group.md) names the group, its code tables (managed once for the
group, in a mapping's ``code_tables`` format) and its members: each member's input folder, its
mappings (one per 業務, run in order: resident before tax, since tax refers to it), which of a
mapping's code tables the group's replace, and the member's own overrides of single codes.

Members run in parallel processes (bounded by cores and memory); each mapping run is the
ordinary ``ikou migrate`` with its own staging and transaction, so a failing member leaves the
others and its own previous partition intact. The group summary says which members succeeded.
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import yaml

from ikou.config.base import did_you_mean, validate_file
from ikou.config.group_file import GroupFile
from ikou.errors import ExitCode, IkouError, is_interrupt
from ikou.i18n import tr
from ikou.mapping import read_yaml
from ikou.paths import is_allowed, outside_problem
from ikou.report import FATE_COUNTS, volume_shares
from ikou.textwidth import pad_display, rjust_display

MEMORY_PER_MEMBER_GB = 2.0  # a member's peak at about a million records (docs/group.md)


@dataclass(frozen=True)
class Member:
    code: str
    name: str
    input_dir: Path
    mappings: tuple[Path, ...]
    replace_code_tables: tuple[tuple[str, str], ...] = ()  # mapping's table -> group table
    overrides: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()  # group table -> (legacy, standard)
    population: int | None = None  # 費用按分: given population (else counted in OUT)
    standalone_cost: int | None = None  # 費用按分: the member's stand-alone cost

    def code_tables(self, group_tables: dict[str, dict]) -> dict[str, dict]:
        """The raw code tables this member's mappings use from the group, overrides merged."""
        overrides = {t: dict(codes) for t, codes in self.overrides}
        out = {}
        for mapping_table, group_table in self.replace_code_tables:
            raw = dict(group_tables[group_table])
            raw["codes"] = {**{str(k): str(v) for k, v in (raw.get("codes") or {}).items()},
                            **overrides.get(group_table, {})}
            out[mapping_table] = raw
        return out


@dataclass(frozen=True)
class GroupConfig:
    id: str
    name: str
    path: Path
    code_tables: dict[str, dict]
    members: tuple[Member, ...]
    fixed_share: float | None = None  # 費用按分 keys (apportionment: in the group file)
    functions: dict[str, float] = field(default_factory=dict)


def load_group(path: Path, input_root: Path | None = None) -> GroupConfig:
    """Read and check a group file: every problem at once, nothing run. Members' ``input``
    folders are relative to ``input_root`` (default: the group file's folder); mappings are
    relative to the group file."""
    raw, _ = read_yaml(path, tr("group"))
    problems: list[str] = []
    where = str(path)
    model = validate_file(GroupFile, raw, where, problems)
    if model is None:
        raise IkouError(tr("group file {path} has {count} problem(s); nothing was run",
                           path=path, count=len(problems)), problems=problems,
                        hint=tr("see docs/group.md"))
    tables = {t: ct.model_dump() for t, ct in model.code_tables.items()}
    members: list[Member] = []
    base = path.parent
    for i, mf in enumerate(model.members):
        mw = f"{where}:members[{i}]"
        mappings = tuple(base / p for p in mf.mappings)
        for p in mappings:
            outside = outside_problem(p, path, f"members[{i}].mappings")
            if outside:
                problems.append(outside)
            elif not p.is_file():
                problems.append(tr("{mw}: mapping {p} does not exist", mw=mw, p=p))
        member_input = (input_root or base) / mf.input
        if not is_allowed(member_input, input_root or base):
            problems.append(tr("{mw}.input: {input!r} leads outside {value} (that is {resolve}): a member's "
                               "input is a folder inside --input-root",
                               mw=mw, input=mf.input, value=input_root or base, resolve=member_input.resolve()))
        defined = set()
        for p in mappings:
            try:
                defined |= set((yaml.safe_load(p.read_text(encoding="utf-8")) or {}).get("code_tables") or {})
            except (OSError, UnicodeDecodeError, yaml.YAMLError, AttributeError):
                pass  # the mapping's own check reports it when the member runs
        for mt, gt in mf.code_tables.items():
            if gt not in tables:
                problems.append(tr("{mw}.code_tables.{mt}: {gt!r} is not a group code table{did_you_mean_gt} "
                                   "({values})",
                                   mw=mw, mt=mt, gt=gt, did_you_mean_gt=did_you_mean(gt, tables),
                                   values=', '.join(tables)))
            if mt not in defined:
                problems.append(tr("{mw}.code_tables.{mt}: none of the member's mappings has a code table "
                                   "{mt!r}{did_you_mean_mt}",
                                   mw=mw, mt=mt, did_you_mean_mt=did_you_mean(mt, defined)))
        for gt in mf.overrides:
            if gt not in mf.code_tables.values():
                problems.append(tr("{mw}.overrides.{gt}: the member uses no group code table {gt!r}", mw=mw, gt=gt))
        members.append(Member(
            code=str(mf.code), name=mf.name or "", input_dir=member_input, mappings=mappings,
            replace_code_tables=tuple(mf.code_tables.items()),
            overrides=tuple((t, tuple(c.items())) for t, c in mf.overrides.items()),
            population=mf.population, standalone_cost=mf.standalone_cost))
    codes = [m.code for m in members]
    for dup in sorted({c for c in codes if codes.count(c) > 1}):
        problems.append(tr("{where}:members: municipality {dup} appears more than once", where=where, dup=dup))
    if problems:
        raise IkouError(tr("group file {path} has {count} problem(s); nothing was run",
                           path=path, count=len(problems)), problems=problems,
                        hint=tr("see docs/group.md"))
    return GroupConfig(id=model.group.id, name=model.group.name or "", path=path, code_tables=tables,
                       members=tuple(members), fixed_share=model.apportionment.fixed_share,
                       functions=dict(model.apportionment.functions))


# -- running ---------------------------------------------------------------------------------------

@dataclass
class MemberResult:
    code: str
    name: str
    status: str  # succeeded | failed
    exit_code: int
    runs: list[dict] = field(default_factory=list)  # each mapping's run summary (summary.json content)
    error: str | None = None
    seconds: float = 0.0


def run_member(member: Member, group_tables: dict[str, dict], out: Path | None, dry_run: bool,
                fault=None) -> dict:
    """One member's mappings in order, in a worker process; never raises (a failure is a result).
    ``fault``: the runs' fault injection (RunOptions.fault), called first at point "member" with
    the member's code (a test's picklable, module-level function)."""
    import logging

    from ikou.pipeline.run import migrate
    from ikou.pipeline.state import RunOptions

    logging.getLogger("ikou").setLevel(logging.WARNING)
    t = time.perf_counter()
    result = MemberResult(member.code, member.name, "succeeded", 0)
    tables = member.code_tables(group_tables)
    if fault is not None:
        fault("member", member.code)
    for mapping in member.mappings:
        try:
            summary = migrate(RunOptions(mapping=mapping, input_dir=member.input_dir, out=out, dry_run=dry_run,
                                         code_tables=tables or None, fault=fault))
        except IkouError as exc:
            result.status, result.exit_code, result.error = "failed", int(exc.exit_code), f"{mapping}: {exc.render()}"
            break
        except Exception as exc:  # noqa: BLE001 - one member's bug must not take the group down
            if is_interrupt(exc):
                raise KeyboardInterrupt from exc
            result.status, result.exit_code = "failed", int(ExitCode.INTERNAL)
            result.error = f"{mapping}: internal error: {type(exc).__name__}: {exc}"
            break
        result.runs.append(summary.to_dict())
        result.exit_code = max(result.exit_code, int(summary.exit_code))
    result.seconds = round(time.perf_counter() - t, 3)
    # a long-lived worker (a Dask worker runs member after member) must not keep a DuckDB
    # connection to OUT alive in a reference cycle: it would hold the file's lock after the run
    import gc
    gc.collect()
    return result.__dict__


def default_jobs(members: int) -> int:
    """Parallel members: at most the cores, and as many as the available memory holds."""
    cores = os.cpu_count() or 1
    try:
        with open("/proc/meminfo") as f:
            info = {line.split(":")[0]: int(line.split()[1]) for line in f}
        by_memory = max(1, int(info["MemAvailable"] / 1024 / 1024 / MEMORY_PER_MEMBER_GB))
    except (OSError, KeyError, ValueError):
        by_memory = cores
    return max(1, min(members, cores, by_memory))


def run_group(group: GroupConfig, out: Path | None, jobs: int | None = None, dry_run: bool = False,
              only: tuple[str, ...] = (), fault=None, progress=None, scheduler: str | None = None) -> dict:
    """Run the members (in parallel processes, or on the Dask cluster at ``scheduler``:
    group_cluster.py), largest first, and return the group summary (also written to
    OUT/group_summary.json when landing). ``progress`` (ikou/progress.py): a line per member as it
    ends."""
    from ikou.group_cluster import connect, largest_first, run_on_cluster, workers

    members = [m for m in group.members if not only or m.code in only]  # the summary lists them so
    client = connect(scheduler) if scheduler else None
    jobs = workers(client) if client is not None else jobs or default_jobs(len(members))
    t = time.perf_counter()
    done: dict[str, dict] = {}
    if out is not None and not dry_run:
        # made here, before any member: a member that fails early removes an OUT it created itself,
        # which must never be one the other members are about to land in
        out.mkdir(parents=True, exist_ok=True)

    if progress is not None:
        progress.phase("members ({count}, {jobs} at a time)", count=len(members), jobs=jobs)

    def record(result: dict) -> None:
        done[result["code"]] = result
        if progress is not None:
            records = sum((r.get("totals") or {}).get("source_records", 0) for r in result.get("runs", ()))
            progress.note(tr("member {code} {name}: {status} (exit {exit_code}) in {seconds:.1f} s, {records:,} records; "
                             "{done} of {members}", code=result["code"], name=result["name"], status=result["status"],
                             exit_code=result["exit_code"], seconds=result.get("seconds", 0), records=records,
                             done=len(done), members=len(members)))
            progress.advance(len(done), len(members))
        # written after each member: a group interrupted midway says which members committed
        _write_summary(group, members, done, jobs, time.perf_counter() - t, dry_run, out, final=False)

    try:
        if client is not None:
            with client:
                run_on_cluster(client, members, group.code_tables, out, dry_run, fault, record)
        elif jobs == 1:
            for m in members:
                record(run_member(m, group.code_tables, out, dry_run, fault))
        else:
            # one process per member, `jobs` at a time: a member whose process dies (the OOM killer)
            # fails alone; a shared pool would break, and take the other running members with it
            with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="ikou-member") as threads:
                futures = [threads.submit(_in_own_process, m, group.code_tables, out, dry_run, fault)
                           for m in largest_first(members)]  # a long member does not start last
                for future in as_completed(futures):
                    record(future.result())
    except BaseException:
        _write_summary(group, members, done, jobs, time.perf_counter() - t, dry_run, out, final=False)
        raise
    return _write_summary(group, members, done, jobs, time.perf_counter() - t, dry_run, out, final=True)


def _in_own_process(m: Member, group_tables: dict[str, dict], out: Path | None, dry_run: bool, fault) -> dict:
    """run_member in a fresh interpreter (spawn: polars and DuckDB threads do not survive a fork),
    which ends with this process, so that a killed group leaves no member landing alone."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"), initializer=_end_with_parent,
                             initargs=(os.getpid(),)) as pool:
        try:
            return pool.submit(run_member, m, group_tables, out, dry_run, fault).result()
        except BrokenProcessPool as exc:
            return MemberResult(m.code, m.name, "failed", int(ExitCode.BAD_INPUT), error=(
                f"the process running member {m.code} died ({exc or 'killed'}): out of memory? Rerun it with "
                f"fewer --jobs (--member {m.code}); OUT keeps its previous data")).__dict__


def _end_with_parent(parent: int) -> None:
    """In each worker: exit when the group's process is gone (killed, interrupted), instead of
    landing members nobody waits for. Linux asks the kernel; elsewhere a thread watches."""
    import signal
    import threading

    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(int(ExitCode.INTERRUPTED))

    threading.Thread(target=watch, name="ikou-parent-watch", daemon=True).start()


def _write_summary(group: GroupConfig, members: list[Member], done: dict[str, dict], jobs: int, seconds: float,
                   dry_run: bool, out: Path | None, final: bool) -> dict:
    results = [done[m.code] for m in members if m.code in done]
    summary = group_summary(group, results, jobs, seconds, dry_run)
    summary["complete"] = final and len(done) == len(members)
    summary["not_run"] = [m.code for m in members if m.code not in done]  # interrupted before they ended
    if out is not None and not dry_run:
        out.mkdir(parents=True, exist_ok=True)
        tmp = out / "group_summary.json.tmp"
        tmp.write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, out / "group_summary.json")
    return summary


def group_summary(group: GroupConfig, results: list[dict], jobs: int, seconds: float, dry_run: bool) -> dict:
    keys = FATE_COUNTS
    members = []
    for r in results:
        by_layout: dict[str, dict[str, Any]] = {}
        for run in r["runs"]:
            by_layout[run["layout"]] = {"run_id": run["run_id"], **run["totals"],
                                        "alerts": run["alerts"]["total"], "exit_code": run["exit_code"],
                                        "money_reconciled": run.get("money_reconciled", True),
                                        "notes": run.get("notes", [])}
        totals = {k: sum(v.get(k, 0) for v in by_layout.values()) for k in keys}
        members.append({"municipality_code": r["code"], "name": r["name"], "status": r["status"],
                        "exit_code": r["exit_code"], "error": r["error"], "seconds": r["seconds"],
                        "layouts": by_layout, "totals": totals})
    grand = {k: sum(m["totals"][k] for m in members) for k in keys}
    # processing volume per member and 業務: what groups apportion shared costs by
    entries = [(layout, m["municipality_code"], m["layouts"].get(layout, {}).get("source_records", 0))
               for layout in sorted({lay for m in members for lay in m["layouts"]}) for m in members]
    volumes = [{"layout": layout, "municipality_code": code, "records": n, "share": share}
               for layout, code, n, share in volume_shares(entries)]
    failed = [m["municipality_code"] for m in members if m["status"] != "succeeded"]
    return {"group": group.id, "name": group.name, "dry_run": dry_run, "jobs": jobs, "seconds": round(seconds, 3),
            "members": members, "totals": grand, "volumes": volumes,
            "succeeded": [m["municipality_code"] for m in members if m["status"] == "succeeded"],
            "failed": failed, "exit_code": max([m["exit_code"] for m in members] or [0])}


def render_group_text(s: dict) -> str:
    """The group run for a terminal or a CI log, in the current language; columns padded by
    display width (a Japanese name or label takes two columns a character)."""
    lines = [tr("group {group} ({name}): {members} member(s), {jobs} in parallel, {seconds} s", group=s["group"],
                name=s["name"], members=len(s["members"]), jobs=s["jobs"], seconds=s["seconds"])
             + (tr(" — DRY RUN") if s["dry_run"] else ""), ""]
    scoped = bool(s["totals"].get("excluded"))  # the fifth fate's column only when a member has a scope
    widths = (8, 12, 10, 10, 10, 10, 8) + ((8,) if scoped else ())
    statuses = {"succeeded": tr("succeeded"), "failed": tr("failed")}

    def row(*cells) -> str:
        *fixed, last = cells
        return "  " + " ".join(pad_display(str(c), w) if k < 3 else rjust_display(str(c), w)
                               for k, (c, w) in enumerate(zip(fixed, widths))) + f"  {last}"

    def counts(t: dict) -> list:
        return [t["source_records"], t["landed"], t["rejected"], t["merged"]] + ([t.get("excluded", 0)] if scoped else [])
    lines.append(row(tr("code"), tr("name"), tr("status"), tr("source"), tr("landed"), tr("rejected"), tr("merged"),
                     *([tr("excluded")] if scoped else []), "業務"))
    for m in s["members"]:
        lines.append(row(m["municipality_code"], m["name"], statuses.get(m["status"], m["status"]), *counts(m["totals"]),
                         ", ".join(m["layouts"]) or "-"))
    lines.append(row(tr("total"), "", "", *counts(s["totals"]), ""))
    if s["volumes"]:
        names = {m["municipality_code"]: m["name"] for m in s["members"]}
        lines += ["", tr("processing volume (records) per 業務, for apportioning shared costs:")]
        lines += [f"  {v['layout']:<10} {v['municipality_code']} {pad_display(names.get(v['municipality_code'], ''), 12)} "
                  f"{v['records']:>10}  {v['share']:>7.2%}"
                  for v in s["volumes"]]
    notes = [f"  {m['municipality_code']} {layout}: {n}" for m in s["members"] for layout, r in m["layouts"].items()
             for n in r.get("notes", [])]
    if notes:
        lines += ["", tr("notes:"), *notes]
    for m in s["members"]:
        if m["error"]:
            lines += ["", tr("FAILED {code} {name} (exit {exit_code}):", code=m["municipality_code"], name=m["name"],
                             exit_code=m["exit_code"]), m["error"].rstrip()]
    lines += ["", tr("succeeded: {succeeded}; failed: {failed}", succeeded=", ".join(s["succeeded"]) or "-",
                     failed=", ".join(s["failed"]) or "-"),
              tr("exit code {code}", code=s["exit_code"])]
    return "\n".join(lines) + "\n"

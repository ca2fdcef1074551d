"""Sign-off (検証責任): who accepted which run, and whether that still holds.

`ikou signoff OUT --run RUN --role vendor|municipality --by NAME` records, in OUT/signoffs.json,
the run, its municipality and 業務, the role and name, the time, the sha256 of the report the
signer saw (``--report FILE``, or the JSON report of that municipality as ikou renders it now) and
a digest of the landed data of that run's tables. The report lists every sign-off; one whose run
is no longer the latest of its municipality and 業務, or whose landed data changed since (the
digest taken again differs), shows as void, with the reason."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb

from ikou.db import quote_ident
from ikou.errors import IkouError
from ikou.i18n import tr

SIGNOFFS = "signoffs.json"
ROLES = ("vendor", "municipality")


@dataclass(frozen=True)
class SignOff:
    run_id: str
    municipality_code: str
    layout: str
    role: str
    by: str
    signed_at: str
    report_sha256: str
    landed_digest: str


def landed_digest(con: duckdb.DuckDBPyConnection, tables: list[str], code: str) -> str:
    """Records and an order-free hash of every landed row of ``tables`` for one municipality:
    any changed, added or removed row changes it."""
    present = {r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()}
    parts = []
    for t in sorted(x for x in tables if x in present):
        n, h = con.execute(f"select count(*), coalesce(bit_xor(hash(x)), 0) from {quote_ident(t)} x "
                           f"where municipality_code = ?", [code]).fetchall()[0]
        parts.append(f"{t}:{n}:{h}")
    return hashlib.sha256(";".join(parts).encode()).hexdigest()


def read_signoffs(out: Path) -> list[SignOff]:
    path = out / SIGNOFFS
    if not path.is_file():
        return []
    try:
        return [SignOff(**s) for s in json.loads(path.read_text(encoding="utf-8"))]
    except (ValueError, TypeError) as exc:
        raise IkouError(tr("{path} is not a sign-off list ikou can read: {exc}", path=path, exc=exc),
                        hint=tr("it is written by `ikou signoff`; restore it from a backup")) from exc


def statuses(con: duckdb.DuckDBPyConnection, out: Path, runs: list[dict], tables_of) -> list[dict]:
    """Every sign-off with ``valid`` and, where void, ``why``. ``runs``: the latest runs;
    ``tables_of(layout)``: the table ids of a layout."""
    latest = {(r["municipality_code"], r["layout"]): r["run_id"] for r in runs}
    rows = []
    for s in read_signoffs(out):
        now = latest.get((s.municipality_code, s.layout))
        why = None
        if now != s.run_id:
            why = f"run replaced by {now}" if now else "the run is no longer in OUT"
        elif landed_digest(con, tables_of(s.layout), s.municipality_code) != s.landed_digest:
            why = "the landed data changed since"
        rows.append({**asdict(s), "valid": why is None, "why": why})
    return rows


def sign(out: Path, run_id: str, role: str, by: str, report: Path | None = None,
         now: dt.datetime | None = None) -> SignOff:
    from ikou.pipeline.landing import locked
    from ikou.reconciliation.model import build_report, latest_runs, reading, run_layout
    from ikou.report import RunSummary

    if role not in ROLES:
        raise IkouError(tr("--role {role}: one of {values}", role=role, values=', '.join(ROLES)))
    if not by.strip():
        raise IkouError(tr("--by: who signs (a name, a team)"))
    with reading(out) as con:
        runs = latest_runs(con)
        run = next((r for r in runs if r["run_id"] == run_id), None)
        if run is None:
            raise IkouError(tr("run {run_id} is not the latest run of a municipality and 業務 in {out}",
                               run_id=run_id, out=out),
                            hint=tr("`ikou report OUT` names each latest run; a replaced run cannot be signed"))
        layout = run_layout(out, run, RunSummary.from_json(run["summary"]) if run["summary"] else None)
        tables = list(layout.tables) if layout else []
        digest = landed_digest(con, tables, run["municipality_code"])
    if report is not None:
        try:
            report_sha = hashlib.sha256(report.read_bytes()).hexdigest()
        except OSError as exc:
            raise IkouError(tr("cannot read the report {report}: {strerror}", report=report, strerror=exc.strerror)) from exc
    else:
        report_sha = hashlib.sha256(build_report(out, run["municipality_code"]).to_json().encode()).hexdigest()
    signed = SignOff(run_id, run["municipality_code"], run["layout"], role, by.strip(),
                     (now or dt.datetime.now(dt.timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ"), report_sha, digest)
    with locked(out):
        entries = [asdict(s) for s in read_signoffs(out)] + [asdict(signed)]
        tmp = out / f".{SIGNOFFS}.{os.getpid()}"
        tmp.write_text(json.dumps(entries, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, out / SIGNOFFS)
    return signed

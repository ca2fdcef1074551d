"""``ikou report OUT [OUT …]``: one reconciliation report over several OUTs (a group run with
one OUT per member, or the OUTs of several machines)."""

from __future__ import annotations

from pathlib import Path

from ikou import __version__
from ikou.errors import IkouError
from ikou.i18n import tr
from ikou.reconciliation.model import ReconciliationReport, build_report


def build_reports(outs: list[Path], municipality: str | None = None) -> ReconciliationReport:
    """One report over several OUTs (a group run with one OUT per member, or the OUTs of several
    machines): each OUT is counted again on its own, and their municipalities are listed together.
    A municipality and 業務 held by two OUTs is refused: which of the two is the migration is for
    the team to say, not for the report to guess."""
    if len(outs) == 1:
        return build_report(outs[0], municipality)
    reports = [build_report(out) for out in outs]
    seen: dict[tuple[str, str], str] = {}
    problems = []
    for out, rep in zip(outs, reports):
        for m in rep.municipalities:
            key = (m.municipality_code, m.layout)
            if key in seen:
                problems.append(tr("municipality {municipality} ({layout}) is in both {a} and {b}",
                                   municipality=m.municipality_code, layout=m.layout, a=seen[key], b=out))
            seen.setdefault(key, str(out))
    if problems:
        raise IkouError(tr("the OUTs given hold the same municipality twice"), problems=problems,
                        hint=tr("report each OUT alone, or leave out the older one"))
    sections = sorted((m for rep in reports for m in rep.municipalities if municipality in (None, m.municipality_code)),
                      key=lambda m: (m.municipality_code, m.layout))
    if not sections:
        raise IkouError(tr("no OUT given holds a run of municipality {municipality}", municipality=municipality),
                        hint=tr("ikou report OUT without --municipality lists what it holds"))
    apportioned = [rep.apportionment for rep in reports if rep.apportionment]
    return ReconciliationReport(
        out=", ".join(rep.out for rep in reports), tool_version=__version__, municipalities=tuple(sections),
        group=None,  # each OUT's group_summary.json covers only the members that landed there
        apportionment=apportioned[0] if len(apportioned) == 1 else None,
        signoffs=tuple(s for rep in reports for s in rep.signoffs if municipality in (None, s["municipality_code"])))

"""What a delta run (差分移行, ``ikou migrate … --delta-from RUN``) found changed since the run it
starts from, per table: one frozen object in the run summary, read and written by every command.

By the table's row key (住民記録: 宛名番号 + 履歴番号 + 枝番号), every landed row of this run is
``inserted`` (its key was not landed before), ``changed`` (an item's value differs) or
``unchanged``, and every row landed before whose key this run does not land is ``deleted``. The
counts are taken from the run's own outputs (the written ``delta`` run table and both landed
partitions) and must balance::

    previous + inserted - deleted = current
    inserted + changed + unchanged = current
    changed + unchanged + deleted = previous
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ikou.i18n import tr

CHANGES = ("inserted", "changed", "deleted")  # the rows of the delta run table; unchanged rows are counted only


@dataclass(frozen=True)
class TableDelta:
    table: str
    previous: int  # rows the base run landed (counted from its landed partition)
    current: int  # rows this run lands (counted from its staged partition)
    inserted: int  # counted from the written delta table
    changed: int
    deleted: int
    unchanged: int  # keys in both with every compared value equal (counted by the comparison itself)
    changed_items: dict[str, int] = field(default_factory=dict)  # item -> changed rows in which it differs
    # deleted rows whose key this run read, and rejected, merged or excluded: not a purge
    deleted_not_landed: int = 0

    @property
    def problems(self) -> list[str]:
        out = []
        if self.previous + self.inserted - self.deleted != self.current:
            out.append(tr("{table}: previous {previous:,} + inserted {inserted:,} - deleted {deleted:,} != "
                          "current {current:,}",
                          table=self.table, previous=self.previous, inserted=self.inserted, deleted=self.deleted,
                          current=self.current))
        if self.inserted + self.changed + self.unchanged != self.current:
            out.append(tr("{table}: inserted {inserted:,} + changed {changed:,} + unchanged {unchanged:,} != "
                          "current {current:,}",
                          table=self.table, inserted=self.inserted, changed=self.changed, unchanged=self.unchanged,
                          current=self.current))
        if self.changed + self.unchanged + self.deleted != self.previous:
            out.append(tr("{table}: changed {changed:,} + unchanged {unchanged:,} + deleted {deleted:,} != "
                          "previous {previous:,}",
                          table=self.table, changed=self.changed, unchanged=self.unchanged, deleted=self.deleted,
                          previous=self.previous))
        return out


@dataclass(frozen=True)
class DeltaSummary:
    previous_run_id: str
    previous_out: str  # the folder the base run is landed in
    tables: tuple[TableDelta, ...]

    @property
    def problems(self) -> list[str]:
        return [p for t in self.tables for p in t.problems]

    def to_dict(self) -> dict:
        return {"previous_run_id": self.previous_run_id, "previous_out": self.previous_out,
                "tables": [asdict(t) for t in self.tables], "reconciled": not self.problems}

    @classmethod
    def from_dict(cls, d: dict | None) -> DeltaSummary | None:
        if not d:
            return None
        return cls(d["previous_run_id"], d.get("previous_out", ""),
                   tuple(TableDelta(**{k: v for k, v in t.items() if k in TableDelta.__dataclass_fields__})
                         for t in d.get("tables", ())))

    def lines(self) -> list[str]:
        lines = ["", tr("delta from run {run_id} (差分: by each table's row key; the rows are in the run table delta):",
                        run_id=self.previous_run_id)]
        for t in self.tables:
            lines.append(f"  {t.table}: " + tr("previous {previous:,} + inserted {inserted:,} - deleted {deleted:,} = "
                                               "current {current:,}; changed {changed:,}, unchanged {unchanged:,}",
                                               previous=t.previous, inserted=t.inserted, deleted=t.deleted,
                                               current=t.current, changed=t.changed, unchanged=t.unchanged)
                         + ("" if not t.problems else tr("  DOES NOT BALANCE")))
            top = sorted(t.changed_items.items(), key=lambda x: (-x[1], x[0]))
            if t.deleted_not_landed:
                lines.append(tr("    WARNING: {n:,} of the deleted rows are still in the export, but did not land this "
                                "time (rejected, merged or excluded; delta.deleted_because = not_landed): the receiver "
                                "would delete them. Check them before handing the delta over", n=t.deleted_not_landed))
            if top:
                lines.append(tr("    items changed: {items}", items=", ".join(f"{i} {n:,}" for i, n in top[:12])
                                + (tr(", … {n} more", n=len(top) - 12) if len(top) > 12 else "")))
        return lines


def recount(con, tables: set[str], run_id: str, code: str, delta: DeltaSummary | None) -> list[str]:
    """A delta run's changes counted again from OUT's ``delta`` table (``ikou report``): a
    difference from the run's summary means OUT was changed after the run."""
    if delta is None:
        return []
    got: dict[tuple[str, str], int] = {}
    if "delta" in tables:
        got = {(t, c): n for t, c, n in con.execute(
            "select target_table, change, count(*) from delta where municipality_code = ? and run_id = ? group by all",
            [code, run_id]).fetchall()}
    problems = []
    for t in delta.tables:
        counted = {c: getattr(t, c) for c in CHANGES}
        held = {c: got.get((t.table, c), 0) for c in CHANGES}
        if counted != held:
            problems.append(tr("{table}: the delta run counted {counted}; OUT's delta table now holds {held}",
                               table=t.table, counted=", ".join(f"{v:,} {k}" for k, v in counted.items()),
                               held=", ".join(f"{v:,} {k}" for k, v in held.items())))
    return problems

"""費用按分: a 自治体クラウド group's shared cost split among its members, to the yen.

Methods (docs/group.md):

- ``equal-population`` (均等割 + 人口割): ``fixed_share`` of the cost in equal parts, the rest by
  population — each member's current residents in OUT (persons whose latest record has 住民状態
  1), or the ``population`` the group file gives;
- ``functional`` (機能別負担): the cost split by the group file's weights per 業務
  (``apportionment.functions``), each 業務's part in equal parts among the members whose mappings
  include it;
- ``records`` (処理件数比例): by the records each member's latest runs in OUT processed (every 業務);
- ``equal-reduction`` (削減率均等): by each member's stand-alone cost (``standalone_cost`` in the
  group file), so that every member saves the same share against running alone.

Shares are exact fractions; each member gets the whole yen below its share, and the yen left
over go one each to the members with the largest remainders (ties: the group file's order), so
the shares sum to the cost exactly and no member is more than one yen from its exact share."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import yaml

from ikou.errors import IkouError
from ikou.group import GroupConfig
from ikou.i18n import tr

METHODS = ("equal-population", "functional", "records", "equal-reduction")
RULE = ("whole yen below each exact share; the yen left over one each to the largest remainders "
        "(ties: the group file's order)")


@dataclass(frozen=True)
class MemberShare:
    code: str
    name: str
    basis: str  # what the share was computed from, e.g. "population 12,345" or "resident, tax"
    share: str  # the exact share as a decimal, 9 places
    yen: int


@dataclass(frozen=True)
class Apportionment:
    group: str
    method: str
    cost: int
    members: tuple[MemberShare, ...]
    rule: str = RULE
    notes: tuple[str, ...] = ()

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2) + "\n"

    def render_text(self) -> str:
        from ikou.textwidth import pad_display

        lines = [f"費用按分 {self.group}: {self.cost:,} yen, method {self.method}", "",
                 f"  {'code':<8} {pad_display('name', 12)} {'share':>12} {'yen':>15}  basis"]
        for m in self.members:
            lines.append(f"  {m.code:<8} {pad_display(m.name, 12)} {m.share:>12} {m.yen:>15,}  {m.basis}")
        lines += [f"  {'total':<21} {'':>12} {sum(m.yen for m in self.members):>15,}", "", f"rounding: {self.rule}"]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines) + "\n"


def exact_yen(cost: int, shares: list[Fraction]) -> list[int]:
    """Whole yen for exact shares summing to 1: floors, then the rest by largest remainder."""
    exact = [cost * s for s in shares]
    yen = [int(x) for x in exact]  # shares are non-negative: int() is the floor
    left = cost - sum(yen)
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - yen[i]), i))
    for i in order[:left]:
        yen[i] += 1
    return yen


def parse_yen(text: str) -> int:
    """12,000,000 / 12000000円 / ¥12,000,000 -> 12000000."""
    digits = text.replace(",", "").replace("円", "").replace("¥", "").replace("￥", "").strip()
    if not digits.isdigit() or int(digits) <= 0:
        raise IkouError(tr("--cost {text!r} is not an amount in yen", text=text), hint=tr("e.g. --cost 12,000,000"))
    return int(digits)


def apportion(group: GroupConfig, cost: int, method: str, out: Path | None = None,
              fixed_share: float | None = None) -> Apportionment:
    members = group.members
    if method not in METHODS:
        raise IkouError(tr("--method {method}: one of {values}", method=method, values=', '.join(METHODS)))
    if method == "equal-population":
        fixed = Fraction(str(fixed_share if fixed_share is not None else group.fixed_share or 0))
        if not 0 <= fixed <= 1:
            raise IkouError(tr("fixed share {float_fixed} is not between 0 and 1", float_fixed=float(fixed)))
        population = _populations(group, out)
        total = sum(population.values())
        if not total:
            raise IkouError(tr("no member has any population"), hint=tr("give population: in the group file, or --out"))
        shares = [fixed / len(members) + (1 - fixed) * Fraction(population[m.code], total) for m in members]
        basis = [f"population {population[m.code]:,}" for m in members]
        notes = (f"均等割 {float(fixed):.0%} of the cost in equal parts, 人口割 the rest by population",)
    elif method == "functional":
        weights = {k: Fraction(str(v)) for k, v in group.functions.items()}
        if not weights or sum(weights.values()) <= 0:
            raise IkouError(tr("functional apportionment needs weights per 業務"),
                            hint=tr("apportionment: {functions: {resident: 0.6, tax: 0.4}} in the group file"))
        uses = {m.code: _layouts(m.mappings) for m in members}
        shares = [Fraction(0)] * len(members)
        for function, w in weights.items():
            users = [i for i, m in enumerate(members) if function in uses[m.code]]
            if not users:
                raise IkouError(tr("apportionment.functions.{function}: no member's mappings use layout "
                                   "{function}",
                                   function=function))
            for i in users:
                shares[i] += w / sum(weights.values()) / len(users)
        basis = [", ".join(sorted(set(uses[m.code]) & set(weights))) for m in members]
        notes = ("each 業務's part (" + ", ".join(f"{k} {v}" for k, v in group.functions.items())
                 + ") in equal parts among the members using it",)
    elif method == "records":
        records = _records(group, out)
        total = sum(records.values())
        if not total:
            raise IkouError(tr("OUT holds no records of these members"), hint=tr("run ikou migrate-group first"))
        shares = [Fraction(records[m.code], total) for m in members]
        basis = [f"records {records[m.code]:,}" for m in members]
        notes = ("source records of each member's latest runs in OUT, every 業務",)
    else:
        missing = [m.code for m in members if not m.standalone_cost]
        if missing:
            raise IkouError(tr("equal-reduction needs every member's standalone_cost (missing: {values})",
                               values=', '.join(missing)),
                            hint=tr("members: - {code: …, standalone_cost: 5000000} in the group file"))
        total = sum(m.standalone_cost for m in members)
        shares = [Fraction(m.standalone_cost, total) for m in members]
        basis = [f"stand-alone {m.standalone_cost:,}" for m in members]
        notes = (f"every member pays {float(Fraction(cost, total)):.4%} of its stand-alone cost "
                 f"(saves {float(1 - Fraction(cost, total)):.4%})",)
    yen = exact_yen(cost, shares)
    rows = tuple(MemberShare(m.code, m.name, b, f"{float(s):.9f}", y) for m, b, s, y in zip(members, basis, shares, yen))
    return Apportionment(group.id, method, cost, rows, notes=notes)


def _layouts(mappings) -> list[str]:
    out = []
    for p in mappings:
        try:
            out.append(str((yaml.safe_load(Path(p).read_text(encoding="utf-8")) or {}).get("layout", "resident")))
        except (OSError, yaml.YAMLError) as exc:
            raise IkouError(tr("cannot read mapping {p}: {exc}", p=p, exc=exc)) from exc
    return out


def _populations(group: GroupConfig, out: Path | None) -> dict[str, int]:
    given = {m.code: m.population for m in group.members if m.population is not None}
    if len(given) == len(group.members):
        return given
    if out is None:
        raise IkouError(tr("population of {codes} is not given",
                           codes=", ".join(m.code for m in group.members if m.code not in given)), hint=tr("give --out (the group's OUT) or population: in the group file"))
    from ikou.reconciliation.model import reading
    with reading(out) as con:
        rows = con.execute(
            "select municipality_code, count(*) filter (where resident_status = '1') from (select * from resident "
            "qualify row_number() over (partition by municipality_code, atena_number "
            "order by history_number desc, history_branch_number desc nulls last) = 1) group by 1").fetchall()
    counted = {str(c): int(n) for c, n in rows}
    return {m.code: given.get(m.code, counted.get(m.code, 0)) for m in group.members}


def _records(group: GroupConfig, out: Path | None) -> dict[str, int]:
    if out is None:
        raise IkouError(tr("records apportionment reads OUT"), hint=tr("give --out (the group's OUT)"))
    from ikou.reconciliation.model import latest_runs, reading
    with reading(out) as con:
        runs = latest_runs(con)
    counts: dict[str, int] = {}
    for r in runs:
        summary = json.loads(r["summary"]) if r["summary"] else {}
        counts[r["municipality_code"]] = counts.get(r["municipality_code"], 0) + int(
            summary.get("totals", {}).get("source_records", 0))
    return {m.code: counts.get(m.code, 0) for m in group.members}

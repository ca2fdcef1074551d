"""``ikou init DIR``: a mapping repository for one municipality or a 自治体クラウド group, ready to
commit — a resident mapping per municipality (the bundled example of the fictional サクラ情報システム
CSV export, with the municipality's code and name put in), a 外字 table, a small fictional sample
export per municipality so that CI has something to validate from the first commit, CI files for
GitHub Actions and GitLab running ``ikou validate``, and a Japanese README that says what to replace.

The files are templates in this folder (Jinja2); the mapping is the example in ikou/examples, not
a copy kept here, so that the scaffold follows the example."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import jinja2

from ikou import __version__
from ikou.errors import IkouError
from ikou.i18n import tr
from ikou.paths import examples_dir

EXAMPLE = "sakuragaoka_991015.yaml"  # the example mapping the scaffold starts from
EXAMPLE_CODE, EXAMPLE_NAME = "991015", "桜ヶ丘市"
SAMPLE_RESIDENTS = 1000  # the fixture generator's smallest export


@dataclass(frozen=True)
class Member:
    code: str
    name: str


@dataclass(frozen=True)
class Group:
    id: str
    name: str


def parse_member(text: str) -> Member:
    """``CODE:NAME`` (団体コード: six digits with its check digit, or five without)."""
    code, sep, name = text.partition(":")
    if not sep or not re.fullmatch(r"[0-9]{5,6}", code.strip()) or not name.strip():
        raise IkouError(tr("--member {value}: expected CODE:NAME, e.g. 372013:高松市", value=text))
    return Member(code.strip(), name.strip())


def files(members: list[Member], group: Group | None) -> dict[str, str]:
    """Every file of the scaffold: relative path -> text."""
    env = jinja2.Environment(loader=jinja2.PackageLoader("ikou", "scaffold"), keep_trailing_newline=True,
                             undefined=jinja2.StrictUndefined, autoescape=False)
    title = group.name if group else members[0].name
    values = {"members": members, "group": group, "title": title, "ikou_version": __version__}
    out = {"README.md": env.get_template("README.md.j2").render(values),
           ".github/workflows/ikou-validate.yml": env.get_template("github.yml.j2").render(values),
           ".gitlab-ci.yml": env.get_template("gitlab-ci.yml.j2").render(values),
           ".gitignore": resources.files("ikou.scaffold").joinpath("gitignore").read_text(encoding="utf-8"),
           ".ikou-root": "# the project root of these mappings: the files they name stay inside this folder\n",
           "gaiji/gaiji.tsv": (examples_dir() / "gaiji_991040.tsv").read_text(encoding="utf-8")}
    if group:
        out["mappings/group.yaml"] = env.get_template("group.yaml.j2").render(values)
    for m in members:
        out[f"mappings/{m.code}_resident.yaml"] = mapping_for(m)
    return out


def mapping_for(member: Member) -> str:
    """The example mapping with the member's code and name, its review decisions file named after
    the code, and the scaffold's 外字 table."""
    text = (examples_dir() / EXAMPLE).read_text(encoding="utf-8")
    text = text.replace(f'"{EXAMPLE_CODE}"', f'"{member.code}"').replace(EXAMPLE_NAME, member.name)
    text = text.replace(f"review_decisions_{EXAMPLE_CODE}.csv", f"review_decisions_{member.code}.csv")
    text = text.replace("\nlayout: resident\n", "\nlayout: resident\n# 外字 (private-use characters): the "
                        "repository's table; an unknown one is reported, never guessed\n"
                        'gaiji: {table: ../gaiji/gaiji.tsv, version: "1", unmapped: alert}\n', 1)
    header = (f"# Mapping: {member.name} ({member.code}) — 住民記録. Written by `ikou init` from ikou's example "
              f"for the fictional\n# サクラ情報システム CSV export: change it to your export "
              f"(`ikou inspect EXPORT --draft-mapping x.yaml` drafts one).\n")
    text = text.replace(". Generate the export with:", " (in ikou's documentation).")
    kept = [line for line in text.splitlines() if not line.startswith(("# Mapping:", "#   ikou fixtures generate"))]
    return header + "\n".join(kept) + "\n"


def write(target: Path, members: list[Member], group: Group | None, samples: bool = True) -> list[Path]:
    """Write the scaffold into ``target`` (which must be empty or absent); returns the files."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise IkouError(tr("{path} exists and is not an empty folder: ikou init writes into a new one", path=target),
                        hint=tr("give a new folder, e.g. ikou init mappings-{value}", value=members[0].code))
    codes = [m.code for m in members]
    if len(set(codes)) != len(codes):
        raise IkouError(tr("--member: a municipality code given twice"))
    written = []
    for rel, text in files(members, group).items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
        written.append(path)
    if samples:
        from ikou.fixtures.generator import generate

        for m in members:  # fictional data, never a real person: replace with a scrubbed cut of the real export
            export = generate(target / "samples" / m.code, residents=SAMPLE_RESIDENTS, seed=int(m.code),
                              defects=False)
            export.expected.unlink()  # the generator's ground truth: of no use in a mapping repository
            written.append(export.path)
    return written

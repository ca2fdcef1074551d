"""Confinement of the paths a mapping or group file names (外字 table, decisions, lookups, layout,
member mappings, member inputs): each resolves, symlinks followed, inside an allowed root, so that
a mapping handed over by someone else cannot make ikou read ``/etc/shadow`` or land a file from
outside ``--input``.

The allowed roots of a file are its project root (the nearest folder at or above it holding
``.git`` or ``.ikou-root``, else its own folder) and the folders given with ``ikou --allow-path``
(or the ``IKOU_ALLOW_PATH`` environment variable, folders separated by ``os.pathsep``; the
option sets it, so that a group's worker processes see the same). Export files are confined to
``--input`` (pipeline/check.py).
"""

from __future__ import annotations

import os
from pathlib import Path, PurePath

from ikou.i18n import tr

ROOT_MARKERS = (".git", ".ikou-root")
ALLOW_ENV = "IKOU_ALLOW_PATH"


def project_root(config_file: Path) -> Path:
    """The nearest folder at or above ``config_file``'s folder holding .git or .ikou-root, else
    that folder itself."""
    start = Path(config_file).resolve().parent
    for folder in (start, *start.parents):
        if any((folder / marker).exists() for marker in ROOT_MARKERS):
            return folder
    return start


def allowed_extra() -> tuple[Path, ...]:
    """The folders allowed besides each file's project root (``--allow-path``)."""
    value = os.environ.get(ALLOW_ENV, "")
    return tuple(Path(p).resolve() for p in value.split(os.pathsep) if p)


def is_inside(path: Path, root: Path) -> bool:
    try:
        Path(path).resolve().relative_to(Path(root).resolve())
    except ValueError:
        return False
    return True


def is_allowed(path: Path, root: Path) -> bool:
    """``path`` (symlinks followed) lies inside ``root`` or inside a folder ``--allow-path`` gave."""
    return is_inside(path, root) or any(is_inside(path, extra) for extra in allowed_extra())


def outside_problem(path: Path, config_file: Path, key: str) -> str | None:
    """None when ``path`` (named by ``key`` of ``config_file``) lies inside an allowed root; else
    the problem, naming the key, the path and the root."""
    root = project_root(config_file)
    if is_allowed(path, root):
        return None
    resolved = Path(path).resolve()
    shown = f"{path} (that is {resolved})" if str(resolved) != str(path) else str(path)
    return (tr("{config_file}:{key}: {shown} lies outside {root}, the folder this file's paths must stay in "
               "(the nearest folder above it with .git or .ikou-root, else its own folder); refused — move the "
               "file inside it, or allow its folder with `ikou --allow-path DIR …`",
               config_file=config_file, key=key, shown=shown, root=root))


def glob_problem(pattern: str) -> str | None:
    """A ``files`` glob must stay inside --input: no absolute pattern, no '..'."""
    pure = PurePath(pattern)
    if pure.is_absolute() or pattern.startswith(("/", "\\")) or (len(pattern) > 1 and pattern[1] == ":"):
        return tr("{pattern!r} is an absolute path: a files glob is relative to --input (e.g. 'JUMIN_*.csv')",
                  pattern=pattern)
    if ".." in pure.parts or ".." in pattern.replace("\\", "/").split("/"):
        return tr("{pattern!r} climbs out of --input with '..': a files glob stays inside --input", pattern=pattern)
    return None


def examples_dir() -> Path:
    """The example mappings: ikou/examples in an installed wheel (setup.py copies mappings/ there),
    else the source checkout's mappings/ folder."""
    package = Path(__file__).resolve().parent
    installed = package / "examples"
    return installed if installed.is_dir() else package.parent / "mappings"

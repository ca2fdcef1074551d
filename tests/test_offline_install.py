"""The closed-network install of docs/offline.md, done as written: a wheelhouse built with
`pip wheel` on a connected machine (here: this one, with its package index), then a fresh venv
that installs ikou from the wheelhouse alone (`--no-index`, no pip configuration), and runs
`ikou demo` (the example mappings come from the wheel, not from a checkout) and `ikou init` +
`ikou validate` in a new folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

from tests.conftest import ROOT

SOURCE = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "ikou", "mappings")


def run(*args, cwd: Path, env: dict | None = None, timeout: int = 900) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode in (0, 1), f"{args}: exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def test_install_from_a_wheelhouse_without_an_index_and_run_the_demo(tmp_path):
    source = tmp_path / "source"  # a copy: building does not touch the checkout
    source.mkdir()
    for name in SOURCE:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(ROOT / name, source / name)
    wheelhouse = tmp_path / "wheelhouse"
    # on the connected machine
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", wheelhouse, source, cwd=tmp_path)
    wheels = sorted(p.name for p in wheelhouse.glob("*.whl"))
    assert any(n.startswith("ikou-") for n in wheels) and any(n.startswith("polars") for n in wheels)
    # inside the closed network: no index, no pip configuration, only the wheelhouse
    target = tmp_path / "venv"
    venv.create(target, with_pip=True)
    bindir = target / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / ("python.exe" if os.name == "nt" else "python")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON", "IKOU_"))}
    env |= {"PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1", "IKOU_LANG": "en"}
    run(python, "-m", "pip", "install", "--quiet", "--no-index", "--find-links", wheelhouse, "ikou",
        cwd=tmp_path, env=env)
    work = tmp_path / "work"  # away from the checkout: nothing can come from its mappings/
    work.mkdir()
    ikou = bindir / ("ikou.exe" if os.name == "nt" else "ikou")
    location = run(python, "-c", "import ikou, pathlib; print(pathlib.Path(ikou.__file__).parent)", cwd=work, env=env)
    package = Path(location.stdout.strip())
    assert package.is_relative_to(target), package  # the installed copy, not the checkout
    assert (package / "examples" / "sakura_cloud" / "group.yaml").is_file()
    demo = run(ikou, "--quiet", "demo", "--out", work / "out", cwd=work, env=env)
    assert "reconciled: yes" in demo.stdout, demo.stdout[-2000:]
    assert (work / "out" / "demo" / "report" / "report.html").is_file()
    run(ikou, "--quiet", "init", work / "repo", "--member", "372013:高松市", cwd=work, env=env)
    validate = run(ikou, "--quiet", "validate", "--mapping", "mappings/372013_resident.yaml",
                   "--input", "samples/372013", cwd=work / "repo", env=env)
    assert validate.returncode == 0, validate.stdout[-2000:]

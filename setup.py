"""The example mappings (mappings/: the demo group, the fixture vendors, the Takamatsu open-data
examples) go into the wheel as ikou/examples, so that `ikou demo` and `ikou init` work from an
installed ikou, without a source checkout. Everything else is in pyproject.toml."""

from pathlib import Path
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithExamples(build_py):
    def run(self) -> None:
        super().run()
        source = Path(__file__).resolve().parent / "mappings"
        if source.is_dir():
            target = Path(self.build_lib) / "ikou" / "examples"
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildWithExamples})

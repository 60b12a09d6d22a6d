"""Only a guard; the project is declared in pyproject.toml.

A wheel without the compiled catalogues serves English under ``lang="id"``, and one without the
vendored front-end files 404s ``/static/vendor/socket.io.min.js`` (no live updates). Both come
from the build step, so building a wheel (``pip install .``) without it fails here and says so.
An editable install (``pip install -e .``) reads them from the checkout and is not checked.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildPyAfterBuildStep(build_py):
    def run(self) -> None:
        # From a checkout (an sdist has no scripts/: it holds what the build step made).
        if not getattr(self, "editable_mode", False) and (ROOT / "scripts" / "build.py").exists():
            import importlib.util

            spec = importlib.util.spec_from_file_location("halopmi_build_step", ROOT / "scripts" / "build.py")
            assert spec is not None and spec.loader is not None
            step = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(step)
            missing = step.missing_outputs(ROOT)
            if missing:
                raise SystemExit(
                    "halopmi: run the build step first (python3 scripts/build.py); missing or stale:\n  "
                    + "\n  ".join(missing)
                )
        super().run()


setup(cmdclass={"build_py": BuildPyAfterBuildStep})

"""What ``pip install .`` installs (issue 18 item 6): the dashboards and cycle notebooks, the
migrations and office data — so ``workbench serve`` and ``workbench pipeline run`` work from an
installed package, not only from a source checkout."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ("pyproject.toml", "README.md", "workbench", "widgets", "pipelines", "notebooks")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from a clean copy of the source (no build folders left in the checkout)."""
    src = tmp_path_factory.mktemp("src")
    for name in SHIPPED:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(ROOT / name, src / name)
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                    "--quiet", "-w", str(out), str(src)], check=True, cwd=src, timeout=300)
    (built,) = out.glob("*.whl")
    return built


@pytest.mark.slow
def test_the_wheel_holds_the_notebooks_pipelines_and_data(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"{folder}/{p.name}" for folder in ("notebooks", "pipelines") for p in (ROOT / folder).glob("*.ipynb")}
    expected |= {f"workbench/migrations/{p.name}" for p in (ROOT / "workbench" / "migrations").glob("*.sql")}
    expected |= {f"workbench/data/{p.name}" for p in (ROOT / "workbench" / "data").glob("*.json")}
    assert "notebooks/index.ipynb" in expected and "pipelines/nightly.ipynb" in expected
    assert expected <= names, sorted(expected - names)
    assert not any(n.startswith(("tests/", "benchmarks/")) for n in names)


@pytest.mark.slow
def test_an_installed_package_finds_its_dashboards_and_pipelines(wheel: Path, tmp_path: Path) -> None:
    """Unpacked as pip installs it, away from the checkout: ``workbench serve`` and ``pipeline run``
    find their notebooks inside the installed package."""
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    probe = ("from workbench.web.serve import NOTEBOOKS; from workbench.cycles.pipeline_runs import PIPELINE_DIR;"
             "print(NOTEBOOKS); print(PIPELINE_DIR)")
    out = subprocess.run([sys.executable, "-c", probe], env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
                         cwd=tmp_path, capture_output=True, text=True, check=True, timeout=300).stdout.split()
    notebooks, pipelines = Path(out[0]), Path(out[1])
    assert notebooks == site / "notebooks" and (notebooks / "index.ipynb").is_file()
    assert pipelines == site / "pipelines" and (pipelines / "nightly.ipynb").is_file()

"""The package installs and carries everything it needs: library, dashboard, model, lists."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
                           capture_output=True, text=True)
    if build.returncode != 0:
        pytest.fail(f"pip wheel failed:\n{build.stdout}\n{build.stderr}")
    return next(out.glob("ugrn_explorer-*.whl"))


def test_wheel_carries_the_dashboard_model_and_lists(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    needed = {
        "ugrn_app/app.py", "ugrn_app/.streamlit/config.toml", "ugrn_app/pages/1_Regulators.py",
        "ugrn_app/pages/6_Perturbation_axis.py", "ugrn_ui/state.py", "ugrn_ui/tables.py", "ugrn_core/cli.py",
        "ugrn_core/models/default_model/best_model.pt", "ugrn_core/models/default_model/vocab.json",
        "ugrn_core/data/tf_lists/human_lambert2018.txt", "ugrn_core/data/tf_lists/PROVENANCE.md",
        "ugrn_app/assets/logo.svg", "ugrn_app/assets/icon.svg", "ugrn_ui/nav.py",
    }
    assert needed <= names, sorted(needed - names)
    assert not [n for n in names if n.startswith(("ugrn_app/tests", "ugrn_app/bench", "ugrn_app/.venv"))]
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "ugrn = ugrn_core.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()


def test_installed_package_runs_from_another_folder(wheel, tmp_path):
    """Installed apart from the checkout: the console command lists its subcommands and finds
    the dashboard it carries (not the checkout's app.py)."""
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)], check=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    help_text = subprocess.run([str(site / "bin" / "ugrn"), "--help"], cwd=elsewhere, env=env, capture_output=True, text=True, check=True).stdout
    for command in ("app", "extract", "pretrain", "benchmark", "axis"):
        assert command in help_text
    found = subprocess.run([sys.executable, "-c", "import ugrn_core, ugrn_core.cli as c; print(ugrn_core.__file__); print(c.app_script())"],
                           cwd=elsewhere, env=env, capture_output=True, text=True, check=True).stdout.split()
    assert found[0].startswith(str(site)) and found[1] == str(site / "ugrn_app" / "app.py")


SNIPPET = """
import anndata, pandas as pd
import ugrn_core as ug
a = ug.datasets.demo()
g = ug.tl.extract(a, model="default", n_genes=60, methods=["pert", "vvp"], progress=False)
a.write_h5ad("a.h5ad")
g2 = ug.GRN.from_anndata(anndata.read_h5ad("a.h5ad"), "ugrn")
pd.testing.assert_frame_equal(g2.edges(), g.edges())
g.save("saved")
pd.testing.assert_frame_equal(ug.GRN.load("saved").edges(), g.edges())
print(ug.__file__, len(g.edges()))
"""


def test_the_notebook_api_runs_from_the_installed_package(wheel, tmp_path):
    """The issue's contract, verbatim, from a folder outside the checkout."""
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)], check=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "UGRN_CACHE_DIR": str(tmp_path / "cache")}
    run = subprocess.run([sys.executable, "-c", SNIPPET], cwd=elsewhere, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    where, n_pairs = run.stdout.split()[-2:]
    assert where.startswith(str(site)) and int(n_pairs) >= 60 * 59

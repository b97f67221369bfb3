"""Networks per group of cells and the differential between two groups."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from ugrn_core.errors import DataError
from ugrn_core.extract import ExtractionParams
from ugrn_core.groups import differential, group_masks, regulator_change


def test_group_masks_name_the_problem():
    obs = pd.DataFrame({"condition": ["ctrl"] * 30 + ["stim"] * 25 + ["rare"] * 4})
    masks = group_masks(obs, "condition", ["ctrl", "stim"])
    assert list(masks) == ["ctrl", "stim"] and masks["stim"].sum() == 25
    with pytest.raises(DataError, match="No cell annotation 'cell_type'; this dataset has: condition"):
        group_masks(obs, "cell_type")
    with pytest.raises(DataError, match=r"no group 'treated'; its groups are ctrl \(30 cells\), stim \(25 cells\)"):
        group_masks(obs, "condition", ["treated"])
    with pytest.raises(DataError, match="'rare' has 4 .*need at least 10"):
        group_masks(obs, "condition", ["ctrl", "rare"])


def test_group_networks_read_their_own_cells_and_compare(tmp_path):
    import ugrn_core as ug

    adata = ug.datasets.demo()
    params = ExtractionParams(n_cells=3, vvp_values=3, n_cell_samples=2)
    res = ug.tl.extract(adata, methods=("pert", "vvp"), n_genes=20, genes=["TF16"], groupby="condition",
                        groups=["control", "perturbed"], params=params, progress=False)
    ctrl, pert = res["control"], res["perturbed"]
    n_ctrl = int((adata.obs.condition == "control").sum())
    assert ctrl.expression.shape[0] == n_ctrl and ctrl.data_info["cells"]["group"] == "control"
    mean_ctrl = ctrl.mean_values[ctrl.panel.index("TF16")]
    assert mean_ctrl > 2 * pert.mean_values[pert.panel.index("TF16")]  # TF16 is knocked down in 'perturbed'
    back = ug.GRN.from_anndata(adata, "ugrn_perturbed")  # stored per group; the group's cells re-made from the AnnData
    assert back.expression.shape[0] == len(adata) - n_ctrl
    diff = ug.tl.differential(res, "control", "perturbed")
    row = diff[(diff.method == "vvp") & (diff.source == "TF16")].iloc[0]
    e_a, e_b = ctrl.edges().set_index(["source", "target"]), pert.edges().set_index(["source", "target"])
    key = (row.source, row.target)
    assert row.delta == pytest.approx(e_b.vvp[key] - e_a.vvp[key])
    assert row.stat == pytest.approx(row.delta / np.hypot(e_a.vvp_sd[key], e_b.vvp_sd[key]), rel=1e-5)
    assert diff[diff.method == "pert"].stat.isna().all()  # Pert reads no cell draws: no spread, no stat
    change = regulator_change(diff, "pert").set_index("source")
    assert change.relative["TF16"] < -0.8  # silenced where knocked down: zeroing it there changes little
    with pytest.raises(DataError, match="different gene panels"):
        differential(ctrl, ug.tl.extract(adata, methods=("pert",), n_genes=15, progress=False, key_added=None))


def test_cli_writes_each_group_and_the_differential(tmp_path):
    """The issue's command on the default panel (Pert only: VVP's group path is checked above)."""
    out = tmp_path / "grp"
    r = subprocess.run([sys.executable, "-m", "ugrn_core", "extract", "--data", "demo", "--model", "default",
                        "--methods", "pert", "--groupby", "condition", "--groups", "control,perturbed", "--out", str(out)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    for group in ("control", "perturbed"):
        assert (out / group / "edges.csv").is_file() and (out / group / "grn" / "grn.json").is_file()
    diff = pd.read_csv(out / "differential.csv")
    assert list(diff.columns) == ["source", "target", "method", "score_A", "score_B", "delta", "stat"]
    assert "pert: summed out-edge score, control -> perturbed; largest falls TF16" in r.stdout
    assert regulator_change(diff, "pert").source.iloc[0] == "TF16"
    bad = subprocess.run([sys.executable, "-m", "ugrn_core", "extract", "--data", "demo", "--methods", "pert",
                          "--groupby", "condition", "--groups", "control,treated", "--out", str(tmp_path / "x")],
                         capture_output=True, text=True, timeout=600)
    assert bad.returncode != 0 and "no group 'treated'" in bad.stderr and "Traceback" not in bad.stderr

"""``default`` means the built-in model that knows the data: the demo model for the demo, the
pooled real-gene model for real human and mouse data, chosen by gene coverage and said why."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ugrn_core.cli import main
from ugrn_core.models import builtin
from ugrn_core.models.foundation import load_model
from ugrn_core.models.vocab import GeneVocab

SHARED = Path(os.environ.get("UGRN_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
MDC = SHARED / "benchmark" / "beeline_genelink" / "expression" / "mDC" / "TFs+500"


def _vocab(path: Path, genes: list[str]) -> Path:
    path.mkdir(parents=True)
    GeneVocab.from_genes(genes).save(path / "vocab.json")
    return path


def test_the_model_that_knows_more_of_the_genes_wins_and_says_why(tmp_path, monkeypatch):
    dirs = {"demo": _vocab(tmp_path / "demo", ["G1", "G2", "TF1"]), "pooled": _vocab(tmp_path / "pooled", ["SOX2", "POU5F1", "GATA1"])}
    monkeypatch.setattr(builtin, "BUILTIN_DIRS", dirs)
    real = builtin.choose_builtin(["Sox2", "Pou5f1", "Nanog", "Actb"])  # mouse case matches
    assert real.name == "pooled" and real.coverage == {"demo": 0.0, "pooled": 0.5}
    assert "pooled model" in real.reason and "50%" in real.reason and "demo model 0%" in real.reason
    assert builtin.choose_builtin(["G1", "G2", "X"]).name == "demo"
    assert builtin.choose_builtin(["X", "Y"]).name == "demo"  # a tie (nothing known) keeps the demo model
    assert builtin.choose_builtin(None).name == "demo"
    monkeypatch.setattr(builtin, "BUILTIN_DIRS", {**dirs, "pooled": tmp_path / "absent"})
    assert builtin.choose_builtin(["Sox2"]).name == "demo"  # a checkout without the pooled model


def test_default_without_genes_is_still_the_demo_model():
    model = load_model("default", device="cpu")
    assert model.name == "default" and model.path == builtin.BUILTIN_DIRS["demo"]
    assert model.choice.startswith("default = the built-in demo model")


@pytest.mark.skipif(not (builtin.BUILTIN_DIRS["pooled"] / "best_model.pt").is_file(), reason="pooled model not built")
def test_the_shipped_pooled_model_is_small_checked_per_set_and_knows_real_genes():
    folder = builtin.BUILTIN_DIRS["pooled"]
    size = sum(f.stat().st_size for f in folder.iterdir())
    assert size < 5e6, f"the pooled model is {size / 1e6:.1f} MB; keep the shipped model a few MB"
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["datasets"] == 6 and len(metrics["per_dataset"]) == 6
    model = load_model("default", device="cpu", genes=["Sox2", "Pou5f1", "Nanog", "Gata1", "Spi1", "Cebpa"])
    assert model.name == "default:pooled" and model.path == folder and "real human and mouse genes" in model.choice
    assert model.describe()["choice"] == model.choice
    # the same choice from the data itself (an AnnData, or a path read for its gene names only)
    import anndata as ad
    import numpy as np

    mouse = ad.AnnData(np.ones((3, 4), dtype=np.float32))
    mouse.var_names = ["Sox2", "Pou5f1", "Nanog", "Gata1"]
    assert load_model("default", device="cpu", data=mouse).name == "default:pooled"
    assert load_model("default", device="cpu", data="demo").name == "default"


@pytest.mark.skipif(not MDC.exists() or not (builtin.BUILTIN_DIRS["pooled"] / "best_model.pt").is_file(),
                    reason="shared BEELINE data or the pooled model absent")
def test_extract_on_a_beeline_mouse_set_runs_with_the_default_and_the_manifest_names_the_pooled_model(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["extract", "--data", str(MDC), "--model", "default", "--methods", "pert", "--n-genes", "20",
                 "--sources", "", "--no-cache", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Model: default:pooled" in printed and "the built-in pooled model" in printed
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model"]["name"] == "default:pooled" and manifest["model"]["path"].endswith("pooled_model")

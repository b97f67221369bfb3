"""Scale-out on Ray: a local 2-worker cluster gives the single-process result, writes the same
cache, and a worker killed mid-chunk has its task retried to the same answer."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
import torch

ray = pytest.importorskip("ray")

from conftest import make_model, rand_values  # noqa: E402
from ugrn_core.extract import ExtractionParams, FeatureCache, extract_features  # noqa: E402
from ugrn_core.extract.engines import RayEngine, make_engine  # noqa: E402
from ugrn_core.models.scgpt import ScGPTModel  # noqa: E402

# classes defined here travel to the workers by value (the tests folder is not on their path)
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])

GENES = [f"G{i}" for i in range(9)]


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"OMP_NUM_THREADS": "1"}})
    yield
    ray.shutdown()


def _params(**kw):
    return ExtractionParams(n_cells=4, vvp_values=4, gt_values=3, chunk_sources=2, **kw)


@pytest.mark.parametrize("method", ["pert", "emb", "vvp", "gt"])
def test_ray_equals_a_single_process(cluster, tmp_path, method):
    model, cells = make_model(GENES, d_model=16), rand_values(30, len(GENES))
    mean = cells.mean(axis=0)
    kw = dict(mean_values=mean, params=_params(), cell_values=cells)
    local = extract_features(method, model, GENES, **kw)
    done = []
    distributed = extract_features(method, model, GENES, engine=RayEngine(), cache=FeatureCache(tmp_path),
                                   progress=lambda d, t: done.append((d, t)), **kw)
    np.testing.assert_allclose(distributed.features, local.features, atol=1e-5)
    np.testing.assert_allclose(distributed.score, local.score, atol=1e-5)
    assert done and done[-1][0] == done[-1][1]  # progress reached the end
    # the workers wrote the shared cache: a local rerun computes nothing
    import ugrn_core.extract as extract_mod

    calls = []
    real = extract_mod.compute_method
    extract_mod.compute_method = lambda *a, **k: calls.append(1) or real(*a, **k)
    try:
        again = extract_features(method, model, GENES, cache=FeatureCache(tmp_path), **kw)
    finally:
        extract_mod.compute_method = real
    assert calls == []
    np.testing.assert_array_equal(again.features, distributed.features)


class DiesOnce(ScGPTModel):
    """Kills its worker process on the first forward anywhere (a marker file says it happened)."""

    marker = ""

    def forward(self, *args, **kwargs):
        if not os.path.exists(self.marker):
            open(self.marker, "w").close()
            os._exit(1)  # the worker dies mid-chunk, as on a lost node or an OOM kill
        return super().forward(*args, **kwargs)


def test_a_killed_task_is_retried_to_the_same_result(cluster, tmp_path):
    model, cells = make_model(GENES, d_model=16), rand_values(30, len(GENES))
    # scale="none": the per-target spread is computed in this process, where DiesOnce would kill pytest
    kw = dict(mean_values=cells.mean(axis=0), params=_params(scale="none"), cell_values=cells)
    reference = extract_features("vvp", model, GENES, **kw)
    model.module.__class__ = DiesOnce
    model.module.marker = str(tmp_path / "died")
    model.digest = "tiny-dies-once"  # workers keep models by digest: this one is new to them
    with torch.no_grad():
        result = extract_features("vvp", model, GENES, engine=RayEngine(max_retries=2), cache=FeatureCache(tmp_path / "c"), **kw)
    assert os.path.exists(tmp_path / "died")  # a worker did die
    np.testing.assert_allclose(result.features, reference.features, atol=1e-5)


def test_engine_names_and_a_clear_error_for_an_unknown_one():
    assert make_engine(None).name == "local" and make_engine("ray", address="auto").address == "auto"
    with pytest.raises(ValueError, match="choose from local, ray"):
        make_engine("dask")


def test_the_cli_with_engine_ray_writes_what_a_single_process_writes(cluster, tmp_path):
    from ugrn_core.cli import main

    common = ["extract", "--data", "demo", "--model", "default", "--methods", "vvp,gt", "--n-genes", "20",
              "--n-cells", "2", "--vvp-values", "3", "--gt-values", "3", "--no-cache"]
    assert main([*common, "--out", str(tmp_path / "local")]) == 0
    assert main([*common, "--engine", "ray", "--out", str(tmp_path / "ray")]) == 0
    for method in ("vvp", "gt"):
        with np.load(tmp_path / "local" / "features" / f"{method}.npz") as a, \
                np.load(tmp_path / "ray" / "features" / f"{method}.npz") as b:
            assert np.abs(a["features"] - b["features"]).max() <= 1e-5


def test_ray_options_without_engine_ray_are_refused(tmp_path):
    from ugrn_core.cli import main

    with pytest.raises(SystemExit, match="go with --engine ray"):
        main(["extract", "--data", "demo", "--address", "auto", "--out", str(tmp_path)])

"""Faults on a server: a killed process leaves no lock and a cache the next run resumes from;
a full disk gives a clear message and no corrupt entry."""

from __future__ import annotations

import errno
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import ugrn_core.extract as extract_mod
import ugrn_core.extract.cache as cache_mod
from conftest import make_model
from ugrn_core.extract import ExtractionParams, FeatureCache, extract_features
from ugrn_core.extract.cache import CacheFullError

TESTS = Path(__file__).resolve().parent
PARAMS = dict(scale="none", vvp_values=4, chunk_sources=3, context="background")


def test_a_process_killed_mid_extraction_leaves_no_lock_and_the_next_run_resumes(tmp_path, genes, monkeypatch):
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(TESTS)!r})
        from conftest import make_model
        import ugrn_core.extract as extract_mod
        from ugrn_core.extract import ExtractionParams, FeatureCache, extract_features
        real, n = extract_mod.compute_method, [0]
        def dies(*a, **k):
            n[0] += 1
            if n[0] == 3:
                os.kill(os.getpid(), signal.SIGKILL)  # killed while computing the third chunk, holding its lock
            return real(*a, **k)
        extract_mod.compute_method = dies
        genes = [f"G{{i}}" for i in range(7)]
        extract_features("vvp", make_model(genes), genes, params=ExtractionParams(**{PARAMS!r}),
                         cache=FeatureCache({str(tmp_path)!r}))
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.returncode == -9, run.stderr[-2000:]
    cache = FeatureCache(tmp_path)
    assert len(list(tmp_path.glob("*/*.npz"))) == 2  # the two finished chunks
    for lock in tmp_path.glob("*/*.lock"):  # no lock is held by the dead process
        key = lock.name[: -len(".npz.lock")]
        with cache.lock(key, timeout=0):
            pass
    calls = []
    real = extract_mod.compute_method
    monkeypatch.setattr(extract_mod, "compute_method", lambda *a, **k: calls.append(1) or real(*a, **k))
    model = make_model(genes)
    resumed = extract_features("vvp", model, genes, params=ExtractionParams(**PARAMS), cache=cache)
    assert len(calls) == 1  # 7 sources / 3 per chunk: 2 chunks came from the cache
    fresh = extract_features("vvp", model, genes, params=ExtractionParams(**PARAMS))
    np.testing.assert_allclose(resumed.features, fresh.features, atol=1e-6)


def test_a_full_disk_says_so_and_leaves_no_entry(tmp_path, genes, monkeypatch):
    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(cache_mod.np, "savez", full)
    with pytest.raises(CacheFullError, match=r"feature cache \(.*\) is full.*UGRN_CACHE_DIR or --cache-dir"):
        extract_features("vvp", make_model(genes), genes, params=ExtractionParams(**PARAMS), cache=FeatureCache(tmp_path))
    assert not list(tmp_path.rglob("*.npz"))  # neither an entry nor a temporary file


def test_an_atomic_write_on_a_full_disk_says_so_and_leaves_nothing(tmp_path):
    from ugrn_core.errors import UGRNError
    from ugrn_core.files import atomic_write

    def fills_the_disk(tmp):
        Path(tmp).write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(UGRNError, match=r"The disk holding .* is full, so model.pt could not be written"):
        atomic_write(tmp_path / "model.pt", fills_the_disk)
    assert list(tmp_path.iterdir()) == []

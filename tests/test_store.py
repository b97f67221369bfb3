"""In-process stores stay within their bounds, by count and by bytes, least recently used first."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest
import torch

from ugrn_core.store import BoundedStore, approx_bytes, env_bound


def test_count_bound_evicts_the_least_recently_used():
    store = BoundedStore(max_entries=3, max_bytes=1e9)
    for k in "abc":
        store[k] = k
    assert store.get("a") == "a"  # a is now the most recent
    store["d"] = "d"
    store["e"] = "e"
    assert "b" not in store and "c" not in store and set("ade") <= {k for k in "abcde" if k in store}
    assert len(store) == 3 and store.evictions == 2
    assert store.seen == set("abcde")  # evicted keys are remembered as made once


def test_byte_bound_counts_arrays_and_keeps_the_newest_even_alone():
    mb = np.zeros(2**20 // 8)  # 1 MiB
    store = BoundedStore(max_entries=100, max_bytes=2.5 * 2**20)
    for k in range(5):
        store[k] = mb.copy()
    assert [k for k in range(5) if k in store] == [3, 4] and store.bytes <= 2.5 * 2**20
    store["big"] = np.zeros(2**20)  # 8 MiB, over the bound by itself: kept, the rest goes
    assert list(k for k in [3, 4, "big"] if k in store) == ["big"]


def test_entries_that_may_not_go_are_kept():
    class Job:
        def __init__(self, done):
            self.done = done

    store = BoundedStore(max_entries=2, max_bytes=1e9, evictable=lambda job: job.done)
    store["running"] = Job(False)
    store["old"] = Job(True)
    store["new"] = Job(True)
    assert "running" in store and "old" not in store and "new" in store


def test_approx_bytes_matches_the_buffers():
    a = np.ones((100, 10), dtype=np.float32)
    t = torch.ones(50, dtype=torch.float64)
    df = pd.DataFrame({"x": np.arange(1000, dtype=np.int64)})
    assert approx_bytes(a) == 4000 and approx_bytes(t) == 400
    assert approx_bytes(df) >= 8000
    nested = {"a": a, "again": a, "t": [t]}
    assert 4400 <= approx_bytes(nested) < 4400 + 2000  # the shared array counted once
    module = torch.nn.Linear(10, 10)
    assert approx_bytes(module) == 440 * 1 and approx_bytes({"model": module}) < 440  # nested models are shared


def test_concurrent_writers_stay_within_the_bound():
    store = BoundedStore(max_entries=5, max_bytes=1e9)

    def write(base):
        for i in range(200):
            store[(base, i)] = i
            store.get((base, i - 1))

    threads = [threading.Thread(target=write, args=(b,)) for b in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(store) == 5 and store.evictions == 795


def test_bounds_from_the_environment(monkeypatch):
    monkeypatch.setenv("UGRN_STORE_MAX_MB", "64")
    assert env_bound("STORE_MAX_MB", 2048) == 64 and env_bound("UNSET_THING", 3) == 3
    monkeypatch.setenv("UGRN_STORE_MAX_MB", "lots")
    with pytest.raises(ValueError, match="UGRN_STORE_MAX_MB='lots' is not a number"):
        env_bound("STORE_MAX_MB", 2048)
    with pytest.raises(ValueError, match="at least one entry"):
        BoundedStore(0, 10)


def test_the_app_stores_are_bounded_by_their_settings(monkeypatch):
    """Every store the pages share across sessions is a BoundedStore with its setting's bounds."""
    from ugrn_ui import pretrain, state

    monkeypatch.setenv("UGRN_ANALYSES_MAX", "3")
    monkeypatch.setenv("UGRN_AXIS_MAX_MB", "1")
    monkeypatch.setenv("UGRN_JOBS_MAX", "2")
    for factory in (state._analysis_store, state.axis_store, pretrain._jobs):
        factory.clear()
    analyses, axis, jobs = state._analysis_store(), state.axis_store(), pretrain._jobs()
    for i in range(5):
        analyses[i] = np.zeros(10)
        axis[i] = np.zeros(2**20 // 8 // 2)  # 0.5 MiB each under a 1 MiB bound
    assert len(analyses) == 3 and 4 in analyses and 0 in analyses.seen
    assert len(axis) == 2 and axis.bytes <= 2**20

    class Job:
        def __init__(self, status):
            self.status = status

    jobs["a"], jobs["b"], jobs["c"] = Job("running"), Job("done"), Job("done")
    assert "a" in jobs and "b" not in jobs and "c" in jobs  # the running job is never dropped
    for factory in (state._analysis_store, state.axis_store, pretrain._jobs):
        factory.clear()


def test_sessions_asking_for_the_same_value_at_once_compute_it_once():
    import threading
    import time

    store = BoundedStore(4, 1e9)
    calls, results = [], []

    def slow():
        calls.append(1)
        time.sleep(0.3)  # long enough that every thread arrives while it runs
        return np.arange(3)

    threads = [threading.Thread(target=lambda: results.append(store.get_or_compute("k", slow))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(results) == 6 and all(r is results[0] for r in results)


def test_a_compute_that_stops_midway_lets_the_next_session_compute():
    store = BoundedStore(4, 1e9)

    def stopped():
        raise KeyboardInterrupt  # a Streamlit session stopped mid-run

    with pytest.raises(KeyboardInterrupt):
        store.get_or_compute("k", stopped)
    assert store.get_or_compute("k", lambda: 7) == 7 and store.get("k") == 7

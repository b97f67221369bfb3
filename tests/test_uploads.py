"""Uploads: one folder per session, a size limit with a clear message, old folders removed."""

from __future__ import annotations

import os
import time

import pytest

from ugrn_core.errors import DataError
from ugrn_core.uploads import session_folder, store_upload, sweep


def test_each_session_gets_its_own_folder(tmp_path):
    a = store_upload("x.h5ad", b"abc", "session-a", tmp_path)
    b = store_upload("x.h5ad", b"abc", "session-b", tmp_path)
    assert a.parent != b.parent and a.read_bytes() == b.read_bytes() == b"abc"
    assert a.parent == session_folder("session-a", tmp_path) and "session-a" not in str(a)


def test_a_file_over_the_limit_is_refused_with_the_limit(tmp_path, monkeypatch):
    monkeypatch.setenv("UGRN_UPLOAD_MAX_MB", "1")
    with pytest.raises(DataError, match=r"big.h5ad is 2 MB; this server accepts uploads up to 1 MB \(UGRN_UPLOAD_MAX_MB\)"):
        store_upload("big.h5ad", b"0" * (2 * 2**20), "s", tmp_path)
    assert not any(tmp_path.rglob("*.h5ad"))  # nothing written


def test_folders_older_than_the_age_are_swept(tmp_path, monkeypatch):
    old = store_upload("old.csv", b"1", "old-session", tmp_path)
    new = store_upload("new.csv", b"2", "new-session", tmp_path)
    long_ago = time.time() - 3 * 3600
    os.utime(old, (long_ago, long_ago))
    assert sweep(max_age_s=2 * 3600, root=tmp_path) == 1
    assert not old.exists() and new.exists()
    monkeypatch.setenv("UGRN_UPLOAD_MAX_AGE_H", "0")
    time.sleep(0.01)
    again = store_upload("again.csv", b"3", "new-session", tmp_path)  # every upload sweeps first (age 0: all)
    assert not new.exists() and again.exists()

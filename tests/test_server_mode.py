"""Server mode: paths resolve to real locations and must lie under the data roots; the refusal
names the roots and nothing of the refused file; what is under the roots is offered."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from ugrn_core.errors import UGRNError
from ugrn_core.models.builtin import BUILTIN_DIRS
from ugrn_core.server import ENV_ROOTS, PathNotAllowed, ServerPolicy, server_policy


@pytest.fixture
def lab(tmp_path):
    root = tmp_path / "lab"
    (root / "pbmc").mkdir(parents=True)
    (root / "pbmc" / "pbmc.h5ad").write_bytes(b"x")
    (root / "beeline" / "mESC").mkdir(parents=True)
    (root / "beeline" / "mESC" / "ExpressionData.csv").write_text("g,c1\nA,1\n")
    (root / "nets").mkdir()
    (root / "nets" / "trrust.tsv").write_text("A\tB\n")
    (root / "sets.gmt").write_text("S\tdesc\tA\tB\n")
    shutil.copytree(BUILTIN_DIRS["demo"], root / "models" / "mine")
    secret = tmp_path / "private"
    secret.mkdir()
    (secret / "notes.csv").write_text("TOP SECRET CONTENT\n")
    os.symlink(secret / "notes.csv", root / "nets" / "link.csv")  # a symlink out of the root
    os.symlink(secret, root / "escape")  # and a folder link
    return root, secret


@pytest.mark.parametrize("bad", ["/etc/passwd", "../../etc/passwd", "nets/link.csv", "escape/notes.csv", "{secret}/notes.csv",
                                 "pbmc/../../private/notes.csv"])
def test_paths_outside_the_roots_are_refused_naming_only_the_roots(lab, bad):
    root, secret = lab
    policy = ServerPolicy.from_spec(str(root))
    with pytest.raises(PathNotAllowed) as err:
        policy.check(bad.format(secret=secret))
    msg = str(err.value)
    assert str(root.resolve()) in msg and "upload" in msg
    assert "passwd" not in msg and "notes" not in msg and "SECRET" not in msg and "private" not in msg


def test_paths_under_the_roots_resolve_to_real_paths(lab):
    root, _ = lab
    policy = ServerPolicy.from_spec(str(root))
    assert policy.check("pbmc/pbmc.h5ad") == (root / "pbmc" / "pbmc.h5ad").resolve()
    assert policy.check(root / "nets" / ".." / "sets.gmt") == (root / "sets.gmt").resolve()
    uploads = root.parent / "uploads"
    uploads.mkdir()
    assert policy.check(uploads / "f.h5ad", extra_roots=(uploads,)) == (uploads / "f.h5ad").resolve()


def test_what_is_under_the_roots_is_offered_by_kind(lab):
    root, _ = lab
    policy = ServerPolicy.from_spec(str(root))
    assert set(policy.choices("dataset")) == {"pbmc/pbmc.h5ad", "beeline/mESC", "beeline/mESC/ExpressionData.csv",
                                              "nets/trrust.tsv"}
    assert set(policy.choices("model")) == {"models/mine"}
    assert "nets/trrust.tsv" in policy.choices("network") and "nets/link.csv" not in policy.choices("network")
    assert set(policy.choices("gene sets")) == {"sets.gmt"}
    assert "escape" not in " ".join(policy.choices("dataset"))


def test_the_setting(monkeypatch, tmp_path):
    monkeypatch.delenv(ENV_ROOTS, raising=False)
    assert server_policy() is None  # a laptop: off
    monkeypatch.setenv(ENV_ROOTS, f"{tmp_path}{os.pathsep}{tmp_path / 'absent'}")
    with pytest.raises(UGRNError, match="not folders: .*absent"):
        server_policy()
    monkeypatch.setenv(ENV_ROOTS, str(tmp_path))
    assert server_policy().roots == (tmp_path.resolve(),)


def test_the_app_in_server_mode_refuses_outside_paths_and_offers_the_roots(lab, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from ugrn_ui import paths

    root, secret = lab
    monkeypatch.setenv(ENV_ROOTS, str(root))
    paths.policy.clear()
    paths._choices.clear()
    try:
        at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=300)
        # the saved-result box: the same path input as the others, and nothing to extract meanwhile
        at.session_state["w_data_kind"] = "Saved result"
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        choice = [s for s in at.selectbox if s.key == "w_result_path::choice"][0]
        assert "pbmc/pbmc.h5ad" in choice.options and str(root.resolve()) in choice.label
        for bad in ("/etc/passwd", "../../etc/passwd", "nets/link.csv", f"{secret}/notes.csv"):
            at.text_input(key="w_result_path").set_value(bad)
            at.run()
            assert not at.exception, [e.value for e in at.exception]
            errors = " ".join(e.value for e in at.error)
            assert "only under its data roots" in errors and str(root.resolve()) in errors
            shown = " ".join(str(el.value) for el in [*at.markdown, *at.error, *at.code, *at.caption, *at.info])
            assert "SECRET" not in shown and "root:x" not in shown and "notes.csv" not in shown
    finally:
        paths.policy.clear()
        paths._choices.clear()

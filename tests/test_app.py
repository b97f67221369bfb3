"""The app's first cut runs on the demo without an exception (AppTest, no browser)."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def test_app_runs_on_demo_and_ranks_targets():
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception, at.exception
    at.sidebar.slider[0].set_value(30).run()
    assert not at.exception, at.exception
    assert at.dataframe, "the ranked-target table is missing"
    table = at.dataframe[0].value
    assert {"source", "target", "vvp", "gt", "known"} <= set(table.columns)
    assert (table.source == at.selectbox[0].value).all()
    assert at.selectbox[0].value.startswith("TF")  # a known regulator, not a target, by default
    other = at.selectbox[0].options[3]
    at.selectbox[0].set_value(other).run()
    assert not at.exception
    assert (at.dataframe[0].value.source == other).all()


def test_app_shows_a_message_for_a_bad_dataset(tmp_path):
    bad = tmp_path / "x.h5ad"
    bad.write_text("not hdf5")
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.sidebar.text_input[0].set_value(str(bad)).run()
    assert not at.exception
    assert at.error and "could not be read as an .h5ad" in at.error[0].value

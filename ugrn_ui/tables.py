"""How score tables read: three significant digits (scientific when small) and a tooltip
per column saying what the number is, so 0.0004 does not print as 0.0000."""

from __future__ import annotations

import streamlit as st

from ugrn_core.explore import PROB, SPREAD, score_label
from ugrn_core.extract import METHODS, SCORE_HELP
from ugrn_core.translator import ENSEMBLE

SCORE_FORMAT = "%.3g"
_EXTRA_HELP = {
    ENSEMBLE: "Mean of the VVP and GT translators' logits, as a probability; out of fold.",
    "pearson": "|Pearson r| of source and target over cells (model-free baseline, undirected).",
}


def score_help(column: str) -> str:
    if column.endswith(PROB):
        method = column[: -len(PROB)]
        return f"Edge probability from the {method.upper()} translator, scored by one that never saw either gene."
    if column.endswith(SPREAD):
        return (f"Standard deviation of the {column[: -len(SPREAD)].upper()} score between draws of real cells for "
                "the virtual cells' context: how much this edge moves with the cells drawn.")
    return _EXTRA_HELP.get(column) or SCORE_HELP.get(column, "")


def sign_column_config(known: str = "sign") -> dict:
    """Predicted and known signs as +1 / -1 with a tooltip each; ``known`` names the known
    sign's column (``sign`` in score tables, ``known_sign`` on graph edges)."""
    return {
        "predicted_sign": st.column_config.NumberColumn(
            "Predicted sign", format="%+d", help="+1 activates, -1 represses (VVP and GT agree), 0 no call."),
        known: st.column_config.NumberColumn(
            "Known sign", format="%+d", help="The reference network's sign; 0 = unsigned or not an edge."),
    }


def score_column_config(columns) -> dict:
    """``column_config`` for ``st.dataframe``: every score column at 3 significant digits
    with its meaning as a tooltip; signs as +1 / -1 with theirs."""
    columns = [*columns, *(f"{m}{SPREAD}" for m in METHODS)]  # spreads show beside their scores where they exist
    config = {c: st.column_config.NumberColumn(score_label(c), format=SCORE_FORMAT, help=score_help(c) or None)
              for c in columns}
    return {**config, **sign_column_config()}

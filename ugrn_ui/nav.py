"""The sidebar's navigation and the app's face: the logo, and page names people read.

Why not Streamlit's automatic list: it names the home page after its file ("app"). Every
page draws this one list instead (``showSidebarNavigation = false`` in the config).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

# (script relative to app.py, label, icon): the order of the sidebar. Material Symbols, which
# Streamlit ships as a font: emoji need the viewer's emoji font (a bare lab server's browser,
# headless Chromium in CI showed empty boxes) and do not match one another.
PAGES = (
    ("app.py", "Home", ":material/home:"),
    ("pages/1_Regulators.py", "Regulators", ":material/format_list_numbered:"),
    ("pages/2_Subnetwork.py", "Subnetwork", ":material/hub:"),
    ("pages/3_Benchmark.py", "Benchmark", ":material/query_stats:"),
    ("pages/4_Pathways.py", "Pathways", ":material/science:"),
    ("pages/5_Export.py", "Export", ":material/download:"),
    ("pages/6_Perturbation_axis.py", "Perturbation axis", ":material/explore:"),
    ("pages/7_Compare_groups.py", "Compare groups", ":material/compare_arrows:"),
)
ICON = {script: icon for script, _, icon in PAGES}  # each page's icon, by its script
APP_ICON = ":material/genetics:"


def assets_dir() -> Path:
    """``assets/`` beside the dashboard's app.py (in a checkout, or installed as ``ugrn_app``)."""
    from ugrn_core.cli import app_script

    return app_script().parent / "assets"


def sidebar_nav() -> None:
    """The logo and one link per page, at the top of every page's sidebar."""
    logo, icon = assets_dir() / "logo.svg", assets_dir() / "icon.svg"
    if logo.is_file():
        st.logo(str(logo), icon_image=str(icon) if icon.is_file() else None)
    from streamlit.errors import StreamlitAPIException

    with st.sidebar:
        try:
            for script, label, icon_ in PAGES:
                st.page_link(script, label=label, icon=icon_)
        except StreamlitAPIException:  # a page run on its own (`streamlit run pages/…`, a test): no app to link to
            return
        st.divider()


__all__ = ["APP_ICON", "ICON", "PAGES", "sidebar_nav", "assets_dir"]

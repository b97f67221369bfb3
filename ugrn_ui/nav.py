"""The sidebar's navigation and the app's face: the logo, and page names people read.

Why not Streamlit's automatic list: it names the home page after its file ("app"). Every
page draws this one list instead (``showSidebarNavigation = false`` in the config).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

# (script relative to app.py, label, icon): the order of the sidebar
PAGES = (
    ("app.py", "Home", "🏠"),
    ("pages/1_Regulators.py", "Regulators", "📋"),
    ("pages/2_Subnetwork.py", "Subnetwork", "🕸️"),
    ("pages/3_Benchmark.py", "Benchmark", "📈"),
    ("pages/4_Pathways.py", "Pathways", "🧪"),
    ("pages/5_Export.py", "Export", "💾"),
    ("pages/6_Perturbation_axis.py", "Perturbation axis", "🧭"),
    ("pages/7_Compare_groups.py", "Compare groups", "⚖️"),
)


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


__all__ = ["PAGES", "sidebar_nav", "assets_dir"]

"""Path inputs: a free box on a laptop; on a shared server (server mode), a choice of what lies
under the data roots plus a box whose path is checked against them (see ``ugrn_core.server``)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import streamlit as st

from ugrn_core.errors import UGRNError
from ugrn_core.server import PathNotAllowed, ServerPolicy, server_policy
from ugrn_core.uploads import session_folder, store_upload


@st.cache_resource
def policy() -> ServerPolicy | None:
    """Server mode's policy, read once per server (None: off)."""
    return server_policy()


@st.cache_data(ttl=60, show_spinner=False)
def _choices(roots: tuple[str, ...], kind: str) -> dict[str, str]:
    return {label: str(p) for label, p in ServerPolicy(tuple(map(Path, roots))).choices(kind).items()}


def stop_on_bad_setup() -> None:
    """A clear message (not a traceback) when server mode is set up wrongly."""
    try:
        policy()
    except UGRNError as exc:
        st.error(str(exc))
        st.stop()


def path_input(label: str, key: str, kind: str, text: Callable[[str, str], str] | None = None) -> str:
    """The path the user chose ('' for none). ``text(label, key)`` draws the free box (default
    ``st.text_input``). In server mode a path outside the roots gives the refusal message."""
    text = text or (lambda lab, k: st.text_input(lab, key=k))
    rules = policy()
    if rules is None:
        return text(label, key).strip()
    options = _choices(tuple(str(r) for r in rules.roots), kind)
    picked = st.selectbox(f"{label} — under {rules.describe()}", [""] + list(options), key=f"{key}::choice",
                          format_func=lambda o: o or "— choose —")
    typed = text("…or a path under the data roots", key).strip()
    spec = options[picked] if picked else typed
    if not spec:
        return ""
    try:
        return str(rules.check(spec, extra_roots=(session_folder(session_id()),)))  # and this session's uploads
    except PathNotAllowed as exc:
        st.error(str(exc))
        return ""


def session_id() -> str:
    """This browser session's id (one per tab)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else "no-session"


def saved_upload(up) -> str | None:
    """The path of an uploaded file, kept in this session's folder; None (and the message)
    when it is over the server's limit."""
    if up is None:
        return None
    try:
        return str(store_upload(up.name, up.getvalue(), session_id()))
    except UGRNError as exc:
        st.error(str(exc))
        return None

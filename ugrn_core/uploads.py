"""Uploads on a shared server: a folder per session, a size limit, removed after an age.

An upload is kept as a file so every later step (readers, caches) can work on a path. On a
server many people use, each session's files go to a folder of its own (named by a hash of
the session id, so no session can name another's), a file over ``UGRN_UPLOAD_MAX_MB`` is
refused with the limit in the message, and folders untouched for ``UGRN_UPLOAD_MAX_AGE_H``
hours are removed whenever a new upload arrives.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from pathlib import Path

from .data.io import save_upload
from .errors import DataError
from .extract.cache import default_cache_dir
from .store import env_bound


def uploads_root() -> Path:
    return default_cache_dir() / "uploads" / "sessions"


def session_folder(session_id: str, root: Path | None = None) -> Path:
    """This session's upload folder (it may not exist yet)."""
    return (root or uploads_root()) / hashlib.sha256(str(session_id).encode()).hexdigest()[:24]


def sweep(max_age_s: float | None = None, root: Path | None = None, now: float | None = None) -> int:
    """Remove session folders whose newest file is older than ``max_age_s``; how many went."""
    root = root or uploads_root()
    max_age_s = env_bound("UPLOAD_MAX_AGE_H", 24.0) * 3600 if max_age_s is None else max_age_s
    now = time.time() if now is None else now
    removed = 0
    for folder in root.glob("*") if root.is_dir() else []:
        stamps = [p.stat().st_mtime for p in folder.rglob("*") if p.is_file()] or [folder.stat().st_mtime]
        if now - max(stamps) > max_age_s:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


def store_upload(name: str, data: bytes, session_id: str, root: Path | None = None) -> Path:
    """Keep an uploaded file in this session's folder, within the size limit; old folders go."""
    limit_mb = env_bound("UPLOAD_MAX_MB", 2000.0)  # = the app's Streamlit maxUploadSize: no change on a laptop
    if len(data) > limit_mb * 2**20:
        raise DataError(f"{Path(name).name} is {len(data) / 2**20:,.0f} MB; this server accepts uploads up to "
                        f"{limit_mb:,.0f} MB (UGRN_UPLOAD_MAX_MB). Ask for the file to be placed under the server's "
                        "data roots, or upload a subset of the cells.")
    sweep(root=root)
    return save_upload(name, data, session_folder(session_id, root))

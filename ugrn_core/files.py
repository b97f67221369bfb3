"""Atomic file writes: a reader sees the old file or the whole new one, never half of one.

Why one helper: checkpoints, uploads and cached models are all read back by later steps
(and by other processes); each is written to a temporary file beside its target and
renamed into place, and the temporary file is removed if writing fails.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path
from typing import Callable

from .errors import UGRNError


def atomic_write(path: str | Path, write: Callable[[str], object]) -> Path:
    """Call ``write(tmp_path)`` and move the result to ``path`` in one rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; these files are meant to be shared
        os.replace(tmp, path)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise UGRNError(f"The disk holding {path.parent} is full, so {path.name} could not be written (nothing "
                            "half-written was left). Free space there and try again.") from None
        raise
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


__all__ = ["atomic_write"]

"""Writing report files so a reader never sees half of one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write"]


def atomic_write(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file renamed into place.

    An interrupted run may be killed while it writes its report; the rename means ``path`` holds
    either the old file or the whole new one. The parent directory must exist.

    Args:
        path: Destination file.
        data: The complete contents.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        Path(tmp).chmod(0o644)  # mkstemp makes 0600; a report is meant to be shared
        Path(tmp).replace(target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target

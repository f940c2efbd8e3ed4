"""The landing folder: which files are drops, in which order, and how a drop is identified."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

from feedback_platform.ingest.readers import SUPPORTED_SUFFIXES

logger = logging.getLogger(__name__)


def drop_files(folder: Path, suffixes: tuple[str, ...] = SUPPORTED_SUFFIXES) -> list[Path]:
    """Drops, the files ending in one of ``suffixes``, in arrival order (mtime, then name).
    Hidden files and partial uploads (any other suffix, e.g. ``.tmp``) are not drops: producers
    write, then rename. Only regular files are drops: a symlink (to a file anywhere, e.g.
    ``/etc/passwd``) is ignored with a warning, and so is a FIFO or device."""
    if not folder.exists():
        return []
    files = []
    for path in folder.iterdir():
        if path.name.startswith(".") or not path.name.lower().endswith(suffixes):
            continue
        mode = path.lstat().st_mode
        if stat.S_ISREG(mode):
            files.append(path)
        elif not stat.S_ISDIR(mode):
            kind = "a symlink" if stat.S_ISLNK(mode) else "not a regular file"
            logger.warning("%s in %s is %s: ignored, not a drop", path.name, folder, kind)
    return sorted(files, key=lambda path: (path.stat().st_mtime_ns, path.name))


def drop_key(path: Path) -> str:
    """Name + size + mtime: a file rewritten in place is a new drop, a touched-less copy is not."""
    stat = path.stat()
    return f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}"

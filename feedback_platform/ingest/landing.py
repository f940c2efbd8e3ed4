"""The landing folder: which files are drops, in which order, and how a drop is identified."""

from __future__ import annotations

from pathlib import Path

from feedback_platform.ingest.readers import SUPPORTED_SUFFIXES


def drop_files(folder: Path, suffixes: tuple[str, ...] = SUPPORTED_SUFFIXES) -> list[Path]:
    """Drops, the files ending in one of ``suffixes``, in arrival order (mtime, then name).
    Hidden files and partial uploads (any other suffix, e.g. ``.tmp``) are not drops: producers
    write, then rename."""
    if not folder.exists():
        return []
    files = [
        path
        for path in folder.iterdir()
        if path.is_file() and not path.name.startswith(".") and path.name.lower().endswith(suffixes)
    ]
    return sorted(files, key=lambda path: (path.stat().st_mtime_ns, path.name))


def drop_key(path: Path) -> str:
    """Name + size + mtime: a file rewritten in place is a new drop, a touched-less copy is not."""
    stat = path.stat()
    return f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}"

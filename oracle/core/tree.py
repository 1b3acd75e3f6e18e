"""Removing directory trees a job wrote, without recursion.

A job's output, shards and scratch may be thousands of directories deep; shutil.rmtree recurses
and raises RecursionError there even with ignore_errors=True, which would crash the node in the
middle of a job it holds collateral for. This removes bottom-up from an explicit stack.
"""

from __future__ import annotations

import contextlib
import os
import stat


def remove_tree(path: str | os.PathLike[str]) -> None:
    """Like shutil.rmtree(path, ignore_errors=True), at any depth. Links are removed, never
    followed. What cannot be removed (say, a path longer than PATH_MAX) is left in place."""
    root = os.fspath(path)
    try:
        mode = os.lstat(root).st_mode
    except OSError:
        return
    if not stat.S_ISDIR(mode):
        with contextlib.suppress(OSError):
            os.unlink(root)
        return
    stack: list[tuple[str, bool]] = [(root, False)]
    while stack:
        directory, emptied = stack.pop()
        if emptied:
            with contextlib.suppress(OSError):
                os.rmdir(directory)
            continue
        stack.append((directory, True))
        with contextlib.suppress(OSError), os.scandir(directory) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append((entry.path, False))
                else:
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)

"""Safe extraction of the tar.gz archives nodes and clients exchange (bundles and results): one
place that refuses absolute or `..` paths, links and devices, and more than `max_bytes`."""

from __future__ import annotations

import gzip
import tarfile
from pathlib import Path, PurePosixPath
from typing import BinaryIO


def safe_extract(fileobj: BinaryIO, dest: Path, max_bytes: int, *, error: type[Exception], what: str) -> None:
    """Checks every member before extracting any; raises `error` naming the `what` (e.g. "bundle")."""
    total = 0
    try:
        with tarfile.open(fileobj=fileobj, mode="r:gz") as tar:
            members = tar.getmembers()
            for m in members:
                p = PurePosixPath(m.name)
                if p.is_absolute() or ".." in p.parts:
                    raise error(f"{what} member {m.name!r} escapes the {what} directory")
                if not (m.isfile() or m.isdir()):
                    raise error(f"{what} member {m.name!r} is a link or device, refused")
                total += m.size
                if total > max_bytes:
                    raise error(f"{what} unpacks to more than {max_bytes} bytes")
            tar.extractall(dest, members=members, filter="data")
    except (tarfile.TarError, EOFError, OSError, gzip.BadGzipFile) as err:
        raise error(f"not a valid {what} archive: {err}") from err

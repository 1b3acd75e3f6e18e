"""Safe extraction of the tar.gz archives nodes and clients exchange (bundles and results): one
place that refuses absolute or `..` paths, links and devices, more than `max_bytes` of content,
more than `max_members` entries, and a decompressed stream (headers included) past its bound."""

from __future__ import annotations

import gzip
import tarfile
import tempfile
from pathlib import Path, PurePosixPath
from typing import BinaryIO

MAX_MEMBERS = 10_000
MAX_DEPTH = 64  # path components of a member: walking deeper trees later must not recurse forever
# Tar headers, PAX records and padding on top of the content: a member costs at least 1 KiB of
# stream; what a small archive can decompress to beyond that is a bomb (a PAX header claiming a
# gigabyte is read into memory by tarfile before any member is seen).
HEADER_ALLOWANCE = 4096


def _decompress(
    fileobj: BinaryIO, limit: int, error: Exception
) -> tempfile.SpooledTemporaryFile[bytes]:
    """The archive's tar stream, decompressed to a spooled file, or `error` past `limit` bytes."""
    out = tempfile.SpooledTemporaryFile(max_size=8 << 20)  # noqa: SIM115 (returned open)
    with gzip.GzipFile(fileobj=fileobj, mode="rb") as gz:
        left = limit
        while chunk := gz.read(min(1 << 20, left + 1)):
            left -= len(chunk)
            if left < 0:
                out.close()
                raise error
            out.write(chunk)
    out.seek(0)
    return out


def safe_extract(fileobj: BinaryIO, dest: Path, max_bytes: int, *, error: type[Exception], what: str,
                 max_members: int = MAX_MEMBERS) -> None:  # fmt: skip
    """Checks every member before extracting any; raises `error` naming the `what` (e.g. "bundle")."""
    total = 0
    limit = max_bytes + (max_members + 2) * HEADER_ALLOWANCE
    try:
        stream = _decompress(
            fileobj, limit, error(f"{what} decompresses to more than {limit} bytes")
        )
        with stream, tarfile.open(fileobj=stream, mode="r:") as tar:
            members: list[tarfile.TarInfo] = []
            while (m := tar.next()) is not None:
                if len(members) >= max_members:
                    raise error(f"{what} has more than {max_members} members")
                members.append(m)
                p = PurePosixPath(m.name)
                if p.is_absolute() or ".." in p.parts:
                    raise error(f"{what} member {m.name!r} escapes the {what} directory")
                if len(p.parts) > MAX_DEPTH:
                    raise error(
                        f"{what} member {m.name[:80]!r}... is nested more than {MAX_DEPTH} deep"
                    )
                if not (m.isfile() or m.isdir()):
                    raise error(f"{what} member {m.name!r} is a link or device, refused")
                total += m.size
                if total > max_bytes:
                    raise error(f"{what} unpacks to more than {max_bytes} bytes")
            tar.extractall(dest, members=members, filter="data")
    except (tarfile.TarError, EOFError, OSError, gzip.BadGzipFile, ValueError) as err:
        raise error(f"not a valid {what} archive: {err}") from err

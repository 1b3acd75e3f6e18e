"""Result hash and result store: what a job produced, reduced to the `bytes32` committed on chain.

Result hash, version 1
======================
The result of a job is the set of *regular files* under its output directory, with their
paths and contents. Nothing else is part of it: not directories (an empty directory changes
nothing), not permissions, owners or times, not the job's logs. So any machine holding the
output files can recompute the hash, without the node, the sandbox or the chain.

1. Walk the output directory without following links. Every entry must be a directory or a
   regular file: a symbolic link, FIFO, socket or device anywhere in the tree makes the whole
   output invalid (`ResultError`), and so does a name that is not valid UTF-8.
2. Name each regular file by its path relative to the output directory, "/" as separator, no
   leading "./" (e.g. `metrics/loss.csv`), encoded as UTF-8 (as stored, not normalised).
3. Sort the files by that encoded path, comparing bytes: `B` < `a`, and `a.txt` < `a/b`
   (0x2E < 0x2F). This is `LC_ALL=C sort` order, not a per-directory walk order.
4. For each file, in that order, form one line

       <path> 0x00 <size> 0x00 <sha256> 0x0A

   where `<size>` is the length in bytes in decimal ASCII without leading zeros (`0` when
   empty) and `<sha256>` is the lowercase hex SHA-256 of the content (64 characters).
5. The result hash is the SHA-256 of the concatenated lines: 32 bytes. An empty output
   directory hashes to SHA-256 of the empty string (`e3b0c442…b855`).

Example: an output holding only `out.txt` containing `hi\\n` is the single line
`b"out.txt\\x003\\x00" + sha256(b"hi\\n").hexdigest().encode() + b"\\n"`, hashed once more.
The same with GNU tools, for file names without newlines (tests check that both agree):

    cd out && find . -type f -printf '%P\\n' | LC_ALL=C sort | while IFS= read -r f; do
      printf '%s\\0%s\\0%s\\n' "$f" "$(stat -c %s "$f")" "$(sha256sum < "$f" | cut -c1-64)"
    done | sha256sum

Result store
============
`ResultStore(root)` keeps results content-addressed, so a result is stored once however many
jobs (or replicas, or re-runs) produced it:

    root/<hash hex>/          the files, read-only, exactly as hashed
    root/<hash hex>.tar.gz    the archive served to the client

The archive is a gzip-compressed POSIX (pax) tar of the same files in hash order, each with
mode 0644, owner 0/0 without names and mtime 0, and a gzip header without name or time, so
one set of files always gives the same archive bytes on the same Python. The archive is only
the transport: the client unpacks it and recomputes the result hash; its own bytes are not
what the chain commits to. `remove` deletes a result (files and archive); when the node does so
is oracle/node/retention.py's policy.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import stat
import tarfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from oracle.core.archive import safe_extract
from oracle.core.errors import ResultError
from oracle.core.tree import remove_tree

HASH_OF_EMPTY = hashlib.sha256(b"").digest()
_CHUNK = 1 << 20


@dataclass(frozen=True)
class OutputFile:
    """One regular file of a result: its relative POSIX path, size and content sha256 (hex)."""

    path: str
    size: int
    sha256: str

    def line(self) -> bytes:
        return b"%s\x00%d\x00%s\n" % (self.path.encode(), self.size, self.sha256.encode())


# ------------------------------------------------------------------------ canonical hash
def list_output_files(output_dir: str | os.PathLike[str]) -> list[tuple[str, Path]]:
    """(relative path, absolute path) of every regular file, in canonical order.

    Raises ResultError on links, special files and names that are not UTF-8."""
    root = Path(output_dir)
    try:
        st = os.lstat(root)
    except FileNotFoundError as err:
        raise ResultError(f"output directory {root} does not exist") from err
    if not stat.S_ISDIR(st.st_mode):
        raise ResultError(f"output {root} is not a directory")
    found: list[tuple[bytes, str, Path]] = []
    for rel, path in _walk(root, ""):
        found.append((rel.encode(), rel, path))
    found.sort(key=lambda item: item[0])
    return [(rel, path) for _, rel, path in found]


MAX_OUTPUT_DEPTH = 64  # directories below /out
MAX_OUTPUT_ENTRIES = 100_000  # files and directories in all


def _walk(root: Path, prefix: str) -> Iterator[tuple[str, Path]]:
    """Regular files under `root`, from an explicit stack: a job's output may be thousands of
    directories deep, which a recursive walk would answer with RecursionError (a node crash,
    not a result). Deeper than MAX_OUTPUT_DEPTH or more than MAX_OUTPUT_ENTRIES is a ResultError,
    so the job gets a deterministic failure result instead."""
    stack: list[tuple[Path, str, int]] = [(root, prefix, 0)]
    seen = 0
    while stack:
        directory, base, depth = stack.pop()
        with os.scandir(directory) as entries:
            for entry in entries:
                seen += 1
                if seen > MAX_OUTPUT_ENTRIES:
                    raise ResultError(f"output has more than {MAX_OUTPUT_ENTRIES} entries")
                name = entry.name
                try:
                    name.encode("utf-8")  # undecodable bytes come back as lone surrogates
                except UnicodeEncodeError:
                    raise ResultError(
                        f"output file name {os.fsencode(name)!r} is not valid UTF-8"
                    ) from None
                rel = f"{base}{name}"
                mode = entry.stat(follow_symlinks=False).st_mode
                if stat.S_ISDIR(mode):
                    if depth + 1 > MAX_OUTPUT_DEPTH:
                        raise ResultError(
                            f"output {rel!r} is nested more than {MAX_OUTPUT_DEPTH} directories deep"
                        )
                    stack.append((Path(entry.path), rel + "/", depth + 1))
                elif stat.S_ISREG(mode):
                    yield rel, Path(entry.path)
                elif stat.S_ISLNK(mode):
                    raise ResultError(
                        f"output {rel!r} is a symbolic link; results hold regular files only"
                    )
                else:
                    raise ResultError(
                        f"output {rel!r} is a special file; results hold regular files only"
                    )


def _open_regular(path: Path) -> tuple[BinaryIO, int]:
    """Opens without following a link that might have replaced the file since the walk."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as err:
        raise ResultError(f"cannot read output file {path}: {err}") from err
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise ResultError(f"output {path} is not a regular file")
    return os.fdopen(fd, "rb"), st.st_size


def _digest_copy(src: Path, rel: str, sink: BinaryIO | None = None) -> OutputFile:
    f, expected = _open_regular(src)
    h, size = hashlib.sha256(), 0
    with f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
            if sink is not None:
                sink.write(chunk)
    if size != expected:
        raise ResultError(f"output file {rel!r} changed while it was being hashed")
    return OutputFile(rel, size, h.hexdigest())


def scan_outputs(output_dir: str | os.PathLike[str]) -> list[OutputFile]:
    """Every output file with size and sha256, in canonical order (raises ResultError)."""
    return [_digest_copy(path, rel) for rel, path in list_output_files(output_dir)]


def hash_of(files: list[OutputFile]) -> bytes:
    """The result hash of already scanned files (they must be in canonical order)."""
    h = hashlib.sha256()
    for f in files:
        h.update(f.line())
    return h.digest()


def result_hash(output_dir: str | os.PathLike[str]) -> bytes:
    """The canonical result hash (bytes32) of an output directory; see the module docstring."""
    return hash_of(scan_outputs(output_dir))


def output_size(output_dir: str | os.PathLike[str]) -> int:
    """Total bytes of the regular files under `output_dir` (links not followed, never raises)."""
    total = 0
    stack = [os.fspath(output_dir)]
    while stack:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    if stat.S_ISDIR(st.st_mode):
                        stack.append(entry.path)
                    elif stat.S_ISREG(st.st_mode):
                        total += st.st_size
        except OSError:
            continue
    return total


# ------------------------------------------------------------------------ archives
def write_archive(output_dir: str | os.PathLike[str], fileobj: BinaryIO) -> bytes:
    """Writes the deterministic tar.gz of `output_dir` to `fileobj`; returns the result hash
    of exactly the bytes archived."""
    files: list[OutputFile] = []
    with gzip.GzipFile(fileobj=fileobj, mode="wb", mtime=0, filename="") as gz:
        with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for rel, path in list_output_files(output_dir):
                f, size = _open_regular(path)
                with f:
                    reader = _HashingReader(f)
                    try:
                        tar.addfile(_tarinfo(rel, size), reader)
                    except OSError as err:  # shorter than when it was opened
                        raise ResultError(
                            f"output file {rel!r} changed while it was archived"
                        ) from err
                    if f.read(1):
                        raise ResultError(f"output file {rel!r} changed while it was archived")
                files.append(OutputFile(rel, size, reader.sha256.hexdigest()))
    return hash_of(files)


class _HashingReader:
    """File wrapper that hashes what tarfile reads through it."""

    def __init__(self, f: BinaryIO):
        self._f = f
        self.sha256 = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        chunk = self._f.read(n)
        self.sha256.update(chunk)
        return chunk


def pack_result(output_dir: str | os.PathLike[str]) -> tuple[bytes, bytes]:
    """(archive bytes, result hash) of an output directory, for sending it elsewhere."""
    out = io.BytesIO()
    digest = write_archive(output_dir, out)
    return out.getvalue(), digest


def _tarinfo(rel: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(rel)
    info.size, info.mode, info.mtime = size, 0o644, 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def unpack_result(data: bytes | BinaryIO, dest: str | os.PathLike[str], max_bytes: int) -> bytes:
    """Unpacks a result archive into the (new or empty) directory `dest`; returns its result
    hash. Refuses links, devices, absolute or `..` paths and more than `max_bytes` of content."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    if any(dest.iterdir()):
        raise ResultError(f"{dest} is not empty")
    fileobj = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
    safe_extract(fileobj, dest, max_bytes, error=ResultError, what="result")
    return result_hash(dest)


# ------------------------------------------------------------------------ the store
def _hex(digest: bytes | str) -> str:
    raw = bytes.fromhex(digest.removeprefix("0x")) if isinstance(digest, str) else bytes(digest)
    if len(raw) != 32:
        raise ValueError(f"a result hash is 32 bytes, got {len(raw)}")
    return raw.hex()


def is_hash_hex(name: str) -> bool:
    """True for a stored result's name: 64 lowercase hex digits."""
    return len(name) == 64 and all(c in "0123456789abcdef" for c in name)


class ResultStore:
    """Content-addressed results: `root/<hex>/` (files) and `root/<hex>.tar.gz` (archive).

    Writes go through a temporary directory and a rename, so a crash never leaves a half
    stored result under its hash, and concurrent puts of the same result are harmless."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def put(self, output_dir: str | os.PathLike[str], expected: bytes | None = None) -> bytes:
        """Copies `output_dir` into the store and returns its result hash.

        The hash is taken from the copy, so what is stored is exactly what was hashed even if
        the source changes meanwhile. With `expected`, a different hash raises ResultError and
        stores nothing."""
        tmp = self.root / f".tmp-{uuid.uuid4().hex}"
        tmp.mkdir()
        try:
            files = []
            for rel, path in list_output_files(output_dir):
                target = tmp / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                with open(target, "xb") as sink:
                    files.append(_digest_copy(path, rel, sink))
                target.chmod(0o444)
            digest = hash_of(files)
            if expected is not None and digest != bytes(expected):
                raise ResultError(
                    f"output of {output_dir} hashes to 0x{digest.hex()}, expected 0x{bytes(expected).hex()}"
                )
            final = self.root / digest.hex()
            if not final.exists():
                try:
                    tmp.rename(final)
                except OSError:  # stored meanwhile by a concurrent put of the same result
                    if not final.is_dir():
                        raise
            self._write_archive(digest)
            return digest
        finally:
            remove_tree(tmp)

    def _write_archive(self, digest: bytes) -> Path:
        path = self.root / f"{digest.hex()}.tar.gz"
        if path.exists():
            return path
        tmp = self.root / f".tmp-{uuid.uuid4().hex}.tar.gz"
        try:
            with open(tmp, "xb") as f:
                if write_archive(self.root / digest.hex(), f) != digest:
                    raise ResultError(f"stored result 0x{digest.hex()} no longer matches its hash")
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return path

    def has(self, digest: bytes | str) -> bool:
        return (self.root / _hex(digest)).is_dir()

    def get(self, digest: bytes | str) -> Path:
        """The directory holding the result's files (read-only); ResultError if not stored."""
        path = self.root / _hex(digest)
        if not path.is_dir():
            raise ResultError(f"no stored result 0x{_hex(digest)}")
        return path

    def archive(self, digest: bytes | str) -> Path | None:
        """The tar.gz to serve for a stored result, or None if the result is not stored."""
        if not self.has(digest):
            return None
        return self._write_archive(bytes.fromhex(_hex(digest)))

    def stored(self) -> list[str]:
        """The hex hashes of every stored result (no leading 0x)."""
        with os.scandir(self.root) as entries:
            return sorted(
                e.name for e in entries if is_hash_hex(e.name) and e.is_dir(follow_symlinks=False)
            )

    def size(self, digest: bytes | str) -> int:
        """Bytes a stored result takes: its files and its archive (0 if not stored)."""
        hexed = _hex(digest)
        total, stack = 0, [self.root / hexed]
        with contextlib.suppress(OSError):
            total += (self.root / f"{hexed}.tar.gz").lstat().st_size
        while stack:  # iterative: no recursion limit, links never followed
            with contextlib.suppress(OSError), os.scandir(stack.pop()) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(Path(entry.path))
                    else:
                        with contextlib.suppress(OSError):
                            total += entry.stat(follow_symlinks=False).st_size
        return total

    def remove(self, digest: bytes | str) -> bool:
        """Deletes a stored result (files and archive); False if it was not stored. The directory
        is renamed away first, so a concurrent `has`/`archive` sees it either whole or gone."""
        hexed = _hex(digest)
        gone = self.root / f".tmp-gone-{uuid.uuid4().hex}"
        try:
            (self.root / hexed).rename(gone)
        except FileNotFoundError:
            found = False
        else:
            found = True
        (self.root / f"{hexed}.tar.gz").unlink(missing_ok=True)
        remove_tree(gone)
        return found

    def verify(self, digest: bytes | str) -> bool:
        """Recomputes a stored result's hash (False if missing, altered or invalid)."""
        try:
            return result_hash(self.get(digest)).hex() == _hex(digest)
        except ResultError:
            return False

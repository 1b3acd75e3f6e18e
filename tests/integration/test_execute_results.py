"""The canonical result hash (as documented in oracle/core/results.py) and the result store."""

import gzip
import hashlib
import io
import os
import subprocess
import tarfile
import textwrap

import pytest

from oracle.core.errors import ResultError
from oracle.core.results import (
    HASH_OF_EMPTY,
    ResultStore,
    pack_result,
    result_hash,
    scan_outputs,
    unpack_result,
)


def write(root, files):
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return root


def by_hand(files):
    """The documented algorithm, spelled out independently of oracle.core.results."""
    lines = b""
    for rel in sorted(files, key=lambda r: r.encode()):
        data = files[rel]
        lines += (
            rel.encode()
            + b"\0"
            + str(len(data)).encode()
            + b"\0"
            + hashlib.sha256(data).hexdigest().encode()
            + b"\n"
        )
    return hashlib.sha256(lines).digest()


FILES = {
    "out.txt": b"hi\n",
    "a.txt": b"",
    "a/b": b"nested",
    "B": b"upper",
    "metrics/loss.csv": b"step,loss\n0,1.5\n",
    "caf\u00e9.bin": bytes(range(256)) * 10,
}


def test_result_hash__single_file__is_the_documented_line():
    files = {"out.txt": b"hi\n"}
    line = b"out.txt\x003\x00" + hashlib.sha256(b"hi\n").hexdigest().encode() + b"\n"
    assert by_hand(files) == hashlib.sha256(line).digest()


def test_result_hash__many_files__matches_the_spec_by_hand(tmp_path):
    digest = result_hash(write(tmp_path, FILES))
    assert len(digest) == 32
    assert digest == by_hand(FILES)
    # Byte order of full paths: "B" < "a.txt" < "a/b" (0x2E < 0x2F), not a directory walk.
    assert [f.path for f in scan_outputs(tmp_path)][:3] == ["B", "a.txt", "a/b"]


def test_result_hash__matches_the_shell_recipe_in_the_docstring(tmp_path):
    import oracle.core.results

    doc = oracle.core.results.__doc__
    recipe = doc[doc.index("    cd out && ") : doc.index("| sha256sum") + len("| sha256sum")]
    recipe = textwrap.dedent(recipe).removeprefix("cd out && ")
    write(tmp_path, FILES)
    out = subprocess.run(
        ["bash", "-c", recipe], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert out.stdout.split()[0] == result_hash(tmp_path).hex()


def test_result_hash__ignores_empty_dirs_times_and_modes(tmp_path):
    a = write(tmp_path / "a", FILES)
    b = write(tmp_path / "b", FILES)
    (b / "empty" / "dir").mkdir(parents=True)
    os.utime(b / "out.txt", (1, 1))
    os.chmod(b / "B", 0o700)
    assert result_hash(a) == result_hash(b)
    (b / "out.txt").write_bytes(b"hi!\n")
    assert result_hash(a) != result_hash(b)


def test_result_hash__empty_output__is_sha256_of_nothing(tmp_path):
    assert result_hash(tmp_path) == HASH_OF_EMPTY == hashlib.sha256(b"").digest()


def test_result_hash__symlink__is_rejected(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "passwd").symlink_to("/etc/passwd")
    with pytest.raises(ResultError, match="symbolic link"):
        result_hash(tmp_path)


def test_result_hash__fifo__is_rejected(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(ResultError, match="special file"):
        result_hash(tmp_path)


def test_result_hash__name_not_utf8__is_rejected(tmp_path):
    with open(os.path.join(os.fsencode(tmp_path), b"bad\xff"), "wb") as f:
        f.write(b"x")
    with pytest.raises(ResultError, match="UTF-8"):
        result_hash(tmp_path)


def test_result_hash__missing_dir__raises(tmp_path):
    with pytest.raises(ResultError, match="does not exist"):
        result_hash(tmp_path / "nope")


def test_store__put__stores_files_and_a_deterministic_archive(tmp_path):
    out = write(tmp_path / "out", FILES)
    store = ResultStore(tmp_path / "store")
    digest = store.put(out)
    assert digest == by_hand(FILES)
    assert store.has(digest) and store.verify(digest)
    assert result_hash(store.get(digest)) == digest
    assert (store.get(digest) / "a" / "b").read_bytes() == b"nested"
    archive = store.archive(digest)
    assert archive == tmp_path / "store" / f"{digest.hex()}.tar.gz"
    # Same files elsewhere: same hash, same archive bytes, stored once.
    again = write(tmp_path / "again", FILES)
    assert store.put(again, digest) == digest
    assert pack_result(again) == (archive.read_bytes(), digest)
    assert sorted(p.name for p in (tmp_path / "store").iterdir()) == [
        digest.hex(),
        f"{digest.hex()}.tar.gz",
    ]
    # The client's side: unpack the served archive, recompute.
    assert unpack_result(archive.read_bytes(), tmp_path / "client", max_bytes=1 << 20) == digest


def test_store__put_with_wrong_expected_hash__raises_and_stores_nothing(tmp_path):
    out = write(tmp_path / "out", {"x": b"1"})
    store = ResultStore(tmp_path / "store")
    with pytest.raises(ResultError, match="expected"):
        store.put(out, b"\x00" * 32)
    assert list((tmp_path / "store").iterdir()) == []


def test_store__unknown_hash__get_raises_and_archive_is_none(tmp_path):
    store = ResultStore(tmp_path)
    with pytest.raises(ResultError, match="no stored result"):
        store.get(b"\x01" * 32)
    assert store.archive("0x" + "01" * 32) is None
    assert not store.verify(b"\x01" * 32)


def test_store__tampered_result__fails_verify(tmp_path):
    store = ResultStore(tmp_path / "store")
    digest = store.put(write(tmp_path / "out", {"x": b"1"}))
    target = store.get(digest) / "x"
    target.chmod(0o644)
    target.write_bytes(b"2")
    assert not store.verify(digest)


def _archive(members):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return gzip.compress(raw.getvalue())


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink"])
def test_unpack_result__escaping_member__is_refused(tmp_path, kind):
    if kind == "symlink":
        info = tarfile.TarInfo("link")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        data = None
    else:
        info = tarfile.TarInfo("../evil" if kind == "dotdot" else "/tmp/evil")
        data = b"x"
        info.size = 1
    with pytest.raises(ResultError, match="escapes|link"):
        unpack_result(_archive([(info, data)]), tmp_path / "dest", max_bytes=1 << 20)
    assert not (tmp_path / "evil").exists()


def test_unpack_result__too_large__is_refused(tmp_path):
    info = tarfile.TarInfo("big")
    info.size = 2048
    with pytest.raises(ResultError, match="more than"):
        unpack_result(_archive([(info, b"\0" * 2048)]), tmp_path / "dest", max_bytes=1024)

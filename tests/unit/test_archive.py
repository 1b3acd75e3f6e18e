"""Hostile archives are refused before anything is written (oracle/archive.py, used for bundles
and results)."""

import io
import tarfile

import pytest

from oracle import bundle as bundles
from oracle.errors import BundleError


def _tgz(*members):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return raw.getvalue()


def _file(name, data=b"x"):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def _link(name, target):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, target
    return info, None


@pytest.mark.parametrize(
    "members,message",
    [
        ([_file("../escape.txt")], "escapes"),
        ([_file("/abs.txt")], "escapes"),
        ([_link("evil", "/etc/passwd")], "link or device"),
        ([_file("big.bin", b"0" * 2048)], "more than"),
    ],
)
def test_unpack__hostile_bundle__refused_and_nothing_written(tmp_path, members, message):
    dest = tmp_path / "dest"
    with pytest.raises(BundleError, match=message):
        bundles.unpack(_tgz(*members), dest, max_bytes=1024)
    assert not any(dest.iterdir())
    assert not (tmp_path / "escape.txt").exists()


def test_unpack__not_an_archive__clear_error(tmp_path):
    with pytest.raises(BundleError, match="not a valid bundle archive"):
        bundles.unpack(b"definitely not gzip", tmp_path / "d", max_bytes=1024)

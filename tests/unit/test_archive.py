"""Hostile archives are refused before anything is written (oracle/core/archive.py, used for bundles
and results)."""

import io
import tarfile

import pytest

from oracle.core import bundle as bundles
from oracle.core.errors import BundleError


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


def test_unpack__more_members_than_the_cap__refused_before_extracting(tmp_path):
    from oracle.core.archive import safe_extract

    data = _tgz(*(_file(f"f{i}") for i in range(11)))
    with pytest.raises(BundleError, match="more than 10 members"):
        safe_extract(
            io.BytesIO(data),
            tmp_path / "out",
            1 << 20,
            error=BundleError,
            what="bundle",
            max_members=10,
        )
    assert not (tmp_path / "out").exists()


def test_unpack__pax_header_bomb__refused_at_the_decompression_bound(tmp_path):
    """A small archive whose PAX header claims megabytes: tarfile would read it all into memory
    before seeing any member. The decompressed stream is bounded first."""
    import gzip

    from oracle.core.archive import safe_extract

    info = tarfile.TarInfo("x")
    info.pax_headers = {"comment": "A" * (8 << 20)}  # 8 MiB of header, compresses to a few KiB
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(info, io.BytesIO(b""))
    data = gzip.compress(raw.getvalue())
    assert len(data) < 64 << 10
    with pytest.raises(BundleError, match="decompresses to more than"):
        safe_extract(
            io.BytesIO(data),
            tmp_path / "out",
            1 << 20,
            error=BundleError,
            what="bundle",
            max_members=10,
        )


def test_manifest__nested_too_deeply__is_a_bundle_error(tmp_path):
    (tmp_path / bundles.MANIFEST).write_text(
        '{"entrypoint": ' + "[" * 100_000 + "]" * 100_000 + "}"
    )
    with pytest.raises(BundleError, match="nested 100001 deep"):
        bundles.load_manifest(tmp_path)


def test_manifest__brackets_inside_strings__do_not_count_as_nesting(tmp_path):
    text = '{"entrypoint": ["python3", "' + "[" * 100 + '\\"{"], "env": {"A": "]]]"}}'
    (tmp_path / bundles.MANIFEST).write_text(text)
    assert bundles.load_manifest(tmp_path).entrypoint == ["python3", "[" * 100 + '"{']

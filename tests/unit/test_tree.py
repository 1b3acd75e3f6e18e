"""Trees a job may write: thousands of directories deep. Walking and removing them must end in a
result or a clean removal, never in RecursionError (a node crash mid-job)."""

import io
import os
import tarfile

import pytest

from oracle.core.archive import safe_extract
from oracle.core.errors import BundleError, ResultError
from oracle.core.results import MAX_OUTPUT_DEPTH, result_hash
from oracle.core.tree import remove_tree


def _deep(root, depth):
    path = root
    for _ in range(depth):
        path = path / "a"
    os.makedirs(path)
    (path / "f.txt").write_text("deep")
    return path


def test_remove_tree__1500_deep__removed_where_shutil_rmtree_raises_recursion_error(tmp_path):
    root = tmp_path / "out"
    _deep(root, 1500)
    remove_tree(root)
    assert not root.exists()


def test_remove_tree__links_removed_not_followed(tmp_path):
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "precious").write_text("x")
    out = tmp_path / "out"
    out.mkdir()
    (out / "link").symlink_to(keep, target_is_directory=True)
    remove_tree(out)
    assert not out.exists() and (keep / "precious").read_text() == "x"


def test_result_walk__deeper_than_the_cap__a_result_error_not_a_crash(tmp_path):
    _deep(tmp_path / "out", 1500)
    with pytest.raises(ResultError, match=f"nested more than {MAX_OUTPUT_DEPTH}"):
        result_hash(tmp_path / "out")


def test_result_walk__at_the_cap__hashed(tmp_path):
    _deep(tmp_path / "out", MAX_OUTPUT_DEPTH)
    assert len(result_hash(tmp_path / "out")) == 32


def test_bundle__member_nested_too_deep__refused_before_extracting(tmp_path):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        info = tarfile.TarInfo("/".join(["d"] * 65) + "/f")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(BundleError, match="nested more than 64 deep"):
        safe_extract(
            io.BytesIO(raw.getvalue()), tmp_path / "b", 1 << 20, error=BundleError, what="bundle"
        )
    assert not (tmp_path / "b").exists()

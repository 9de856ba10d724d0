"""Files twinkit writes appear whole and are readable like any other file the user makes."""

import json
import os

import pytest

from twinkit.files import atomic_write, write_json


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_written_files_follow_the_umask_not_mkstemp(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        write_json(tmp_path / "summary.json", {"a": 1})
        atomic_write(tmp_path / "data.bin", lambda p: p.write_bytes(b"x"))
    finally:
        os.umask(old)
    for name in ("summary.json", "data.bin"):
        assert (tmp_path / name).stat().st_mode & 0o777 == mode
    assert json.loads((tmp_path / "summary.json").read_text()) == {"a": 1}


def test_a_failed_write_leaves_nothing(tmp_path):
    (tmp_path / "keep.json").write_text('{"old": true}')

    def fail(p):
        p.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(tmp_path / "keep.json", fail)
    assert json.loads((tmp_path / "keep.json").read_text()) == {"old": True}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.json"]

"""How twinkit writes files: whole or not at all (a temporary file renamed into place, synced),
and readable like any other file the user makes (0666 less the umask, typically 0644; a bare
temporary file would be 0600, unreadable to a dashboard or JupyterHub running as another user);
one writer at a time where two would clash (`exclusive`)."""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def _umask() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    old = os.umask(0o022)  # elsewhere: read it by setting it (not thread-safe, hence second)
    os.umask(old)
    return old


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Write `path` through `write(tmp_path)` so that it appears whole or not at all, durably."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the rename itself survives a crash
    finally:
        os.close(dir_fd)


def load_npz(path: Path) -> Any:
    """``np.load`` (arrays only, never pickles) of an `.npz` that twinkit wrote with `np.savez`,
    which stores its members uncompressed. A deflated member (``np.savez_compressed``'s, or a
    hostile folder's) could inflate to any size, so it is refused (ValueError naming the file and
    the member) before anything is read; so are members larger than the file."""
    import zipfile

    import numpy as np

    with zipfile.ZipFile(path) as z:
        infos = z.infolist()
    packed = [i.filename for i in infos if i.compress_type != zipfile.ZIP_STORED]
    if packed:
        raise ValueError(f"{path}: compressed members ({packed[0]}, ...); twinkit stores them")
    if sum(i.file_size for i in infos) > os.path.getsize(path):
        raise ValueError(f"{path}: damaged (its members are larger than the file)")
    return np.load(path, allow_pickle=False)


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write JSON atomically, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)

    def write(tmp: Path) -> None:
        with open(tmp, "w") as f:
            json.dump(data, f, indent=2, sort_keys=False)
            f.write("\n")

    atomic_write(path, write)


def write_netcdf(ds: Any, path: Path) -> None:
    """Save an xarray Dataset `ds` as NetCDF (h5netcdf) atomically: readers see the old file or
    the new one."""
    atomic_write(Path(path), lambda p: ds.to_netcdf(p, engine="h5netcdf"))


def write_text(path: Path, text: str) -> None:
    """Write a text file atomically (UTF-8)."""

    def write(tmp: Path) -> None:
        tmp.write_text(text, encoding="utf-8")

    atomic_write(path, write)


class Busy(RuntimeError):
    """Another process holds the lock (`exclusive`)."""


_held: set[Path] = set()  # locks this process holds: a nested `exclusive` on one passes


@contextmanager
def exclusive(lock: Path) -> Iterator[None]:
    """Hold an exclusive lock on file `lock` (created if missing) for the block; Busy at once,
    without waiting, if another process holds it. The kernel releases it when the process ends,
    however it ends (kill -9 included), so a stale lock file blocks nothing."""
    key = lock.parent.resolve() / lock.name
    if key in _held:
        yield
        return
    with open(key, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Busy(str(lock)) from None
        _held.add(key)
        try:
            yield
        finally:
            _held.discard(key)  # closing the file releases the lock


class OutsideFolder(ValueError):
    """A deletion that would reach outside the folder a command owns (nothing was deleted)."""


def _owned(path: Path, owner: Path) -> Path:
    """`path` with its parent resolved, if it lies strictly inside `owner` (resolved) and is not
    reached through a symbolic link; OutsideFolder otherwise."""
    root = owner.resolve()
    real = path.parent.resolve() / path.name
    if path.name in ("", ".", "..") or root not in real.parents:
        raise OutsideFolder(
            f"{path}: not inside {owner}, the folder this command owns; not deleted"
        )
    return real


def remove_tree(path: Path, owner: Path) -> None:
    """Delete folder `path` and what it holds; it must lie inside `owner` (the command's own
    output folder) and not be a symbolic link (whose target would go). Missing: nothing to do."""
    import shutil

    real = _owned(path, owner)
    if real.is_symlink():
        raise OutsideFolder(f"{path}: a symbolic link (to {real.resolve()}); not deleted")
    if real.exists():
        shutil.rmtree(real)


def remove_file(path: Path, owner: Path) -> None:
    """Delete file `path` (a symbolic link itself, never its target) inside `owner`."""
    _owned(path, owner).unlink(missing_ok=True)

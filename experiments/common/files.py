"""How the driver writes what the experiments make: atomically, with mode 0644, never half a file.

Every output goes to a temporary file in its folder, is flushed, made readable
by all (``tempfile.mkstemp`` creates files 0600) and renamed over the target,
so a run killed mid-write leaves the previous file (or none), never a
truncated one. ``update_json`` adds a lock for files several runs update
(``figures/manifest.json``, ``figures/timings.json``).
"""
import contextlib
import fcntl
import json
import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write", "write_json", "write_text", "write_arrays", "read_json", "update_json"]

MODE = 0o644


@contextlib.contextmanager
def atomic_write(path, mode="w"):
    """``with atomic_write(path) as handle:`` write ``handle``; ``path`` appears whole, 0644, or not at all."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, MODE)
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text(path, text):
    """Write ``text`` atomically."""
    with atomic_write(path) as handle:
        handle.write(text)


def write_json(path, data):
    """Write ``data`` as indented JSON atomically (NumPy arrays and scalars as lists and numbers)."""
    with atomic_write(path) as handle:
        json.dump(data, handle, indent=1, default=_json_default)
        handle.write("\n")


def write_arrays(path, arrays):
    """Write ``{name: array}`` as a compressed ``.npz`` atomically."""
    import numpy as np

    with atomic_write(path, "wb") as handle:
        np.savez_compressed(handle, **arrays)


def _json_default(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def read_json(path, default=None):
    """The JSON in ``path``, or ``default`` if there is no such file."""
    path = Path(path)
    if not path.exists():
        return default
    return json.loads(path.read_text())


@contextlib.contextmanager
def _locked(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def update_json(path, update):
    """Read-modify-write a JSON file under a lock: ``update(data) -> data``."""
    path = Path(path)
    with _locked(path):
        write_json(path, update(read_json(path, {})))

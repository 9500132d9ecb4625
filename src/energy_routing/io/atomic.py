"""Atomic file output: a file at its final path is always complete.

Every stage writes through :func:`atomic_output`: the content goes to a temporary file in
the same directory, which replaces the target with :func:`os.replace` only once it was
written in full. An interrupted or failing writer leaves the previous file (or none), never
a truncated one. The file gets the permissions any normal tool would give it under the
user's umask (``0o666 & ~umask``), not the private mode of a temporary file, so results on
a shared filesystem are readable by the group as usual.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it onto ``path`` on success.

    The temporary name keeps the suffix of ``path`` so writers that infer the format
    from it (matplotlib, pandas) work unchanged.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> with atomic_output(target) as tmp:
    ...     _ = tmp.write_text("done")
    >>> target.read_text()
    'done'
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    except OSError as err:
        raise OSError(f"cannot write {str(path)!r}: {err.strerror or err}") from err
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb") as handle:  # the data reach the disk before the rename
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        reason = f"{err.strerror or err}{_low_space(path.parent)}"
        raise OSError(err.errno, f"cannot write {str(path)!r}: {reason}") from err
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def current_umask() -> int:
    """The process's file-mode creation mask, read without changing it where the system
    reports it (Linux), else by setting and restoring it.

    >>> 0 <= current_umask() <= 0o777
    True
    """
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _low_space(folder: Path) -> str:
    """A note on free space when the device is nearly full: some writers (HDF5) report a
    full disk as another error, such as 'Permission denied'."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return ""
    return f" (the device has only {free / 2**20:.2f} MiB free)" if free < 64 * 2**20 else ""


def write_json(obj, path: str | os.PathLike) -> None:
    """Write ``obj`` as indented JSON to ``path``, atomically."""
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n")

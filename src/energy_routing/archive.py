"""Archiving results with their provenance, and verifying an archive later.

An archive is a gzipped tar holding ``results/`` (figures, tables, datasets, report),
the config the run used and ``MANIFEST.json``: the SHA-256 and size of every other member,
the package versions, the git revision and the creation date. :func:`verify` recomputes
every checksum from the archive itself.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import tarfile
from pathlib import Path

from energy_routing.atomic import atomic_output
from energy_routing.errors import EnergyRoutingError
from energy_routing.provenance import git_revision, package_versions

MANIFEST = "MANIFEST.json"


class ArchiveError(EnergyRoutingError):
    """An archive does not match its manifest."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _members(
    results: Path, config: Path, skip: tuple[str, ...], only: list | None
) -> dict[str, Path]:
    files = {f"config/{config.name}": config}
    paths = sorted(results.rglob("*")) if only is None else sorted(map(Path, only))
    for path in paths:
        rel = path.relative_to(results)
        if path.is_file() and not path.name.startswith(".") and rel.parts[0] not in skip:
            files[f"results/{rel.as_posix()}"] = path
    return files


def create(
    out: str | Path,
    *,
    results: str | Path,
    config: str | Path,
    skip: tuple[str, ...] = ("logs", "benchmarks"),
    only: list | None = None,
) -> dict:
    """Pack ``results`` and ``config`` with a manifest into the tar.gz ``out`` (atomically).

    ``only`` restricts the archive to those files under ``results`` (the Snakemake target
    passes the outputs of the current run, so files left by earlier configs stay out).
    Returns the manifest. Members are stored in sorted order with fixed ownership and
    modes, so the archive's content list is reproducible.
    """
    files = _members(Path(results), Path(config), skip, only)
    payload = {name: path.read_bytes() for name, path in files.items()}
    manifest = {
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git_revision": git_revision(Path(__file__).parent),
        "package_versions": package_versions(),
        "files": {
            name: {"sha256": _sha256(data), "bytes": len(data)} for name, data in payload.items()
        },
    }
    payload[MANIFEST] = json.dumps(manifest, indent=2, sort_keys=True).encode()
    with atomic_output(out) as tmp, tarfile.open(tmp, "w:gz") as tar:
        for name in [MANIFEST, *sorted(files)]:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(payload[name]), 0o644, 0
            tar.addfile(info, io.BytesIO(payload[name]))
    return manifest


def verify(path: str | Path) -> dict:
    """Check every member of an archive against its manifest; return the manifest.

    Raises
    ------
    ArchiveError
        Naming the archive and every missing, unexpected or altered member.
    """
    path = Path(path)
    try:
        with tarfile.open(path, "r:gz") as tar:
            data = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    except (OSError, tarfile.TarError, EOFError) as err:
        raise ArchiveError(f"{path}: cannot be read as a tar.gz archive ({err})") from None
    if MANIFEST not in data:
        raise ArchiveError(f"{path}: no {MANIFEST} inside")
    manifest = json.loads(data.pop(MANIFEST))
    expected = manifest["files"]
    problems = [f"missing {n}" for n in sorted(set(expected) - set(data))]
    problems += [f"unexpected {n}" for n in sorted(set(data) - set(expected))]
    problems += [
        f"altered {n}"
        for n in sorted(set(data) & set(expected))
        if _sha256(data[n]) != expected[n]["sha256"]
    ]
    if problems:
        raise ArchiveError(f"{path}: does not match its manifest: " + "; ".join(problems))
    return manifest


def default_name(name: str, today: dt.date | None = None) -> str:
    """``archive/<name>-<YYYY-MM-DD>.tar.gz``."""
    return f"archive/{name}-{(today or dt.date.today()).isoformat()}.tar.gz"

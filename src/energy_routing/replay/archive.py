"""Archiving results with their provenance, and verifying an archive later.

An archive is a gzipped tar holding ``results/`` (figures, tables, datasets, report), the
config the run used (``config/<name>``), the source that made them (``source/``: the
package, the workflow, the default config, ``pyproject.toml`` and the lock
``requirements.lock``) and ``MANIFEST.json``: the SHA-256 and size of every other member,
the Python version, the exact version of every installed distribution, the lock's SHA-256
and how the environment differs from it, the git revision and the creation date.
:func:`verify` recomputes every checksum from the archive itself;
:mod:`energy_routing.replay.run` reruns an archive in the environment of its lock and compares
the results.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import platform
import re
import sysconfig
import tarfile
from importlib import metadata
from pathlib import Path

from energy_routing.errors import EnergyRoutingError
from energy_routing.io.atomic import atomic_output
from energy_routing.io.provenance import git_revision, package_versions

MANIFEST = "MANIFEST.json"
#: Archive folder holding the source the results were made with.
SOURCE = "source"
#: The lock file, at the repository root, of the environment ``make venv`` installs.
LOCK = "requirements.lock"
#: What of the repository goes into ``source/``: enough to install the package and rerun
#: the workflow without the checkout (README.md is the package's readme in pyproject).
SOURCE_ITEMS = (
    "Snakefile",
    "pyproject.toml",
    "README.md",
    LOCK,
    "environment.yml",
    "config",
    "workflow",
    "src",
)
#: Distributions of a virtualenv that the lock does not list: the project itself.
NOT_LOCKED = ("energy-routing",)


class ArchiveError(EnergyRoutingError):
    """An archive does not match its manifest."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def normalize(name: str) -> str:
    """A distribution name in canonical form (PEP 503): ``PyYAML`` -> ``pyyaml``.

    >>> normalize("snakemake_executor.plugin-Slurm")
    'snakemake-executor-plugin-slurm'
    """
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_versions() -> dict[str, str]:
    """Every distribution importable by this interpreter, by canonical name."""
    out = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            out.setdefault(normalize(name), dist.version)
    return dict(sorted(out.items()))


def python_info() -> dict[str, str]:
    """The interpreter: version, implementation and platform."""
    return {
        "version": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": sysconfig.get_platform(),
    }


_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)\s*(?:;([^\\]*))?")


def lock_pins(text: str, *, all_platforms: bool = False) -> dict[str, str]:
    r"""The pinned versions of a lock file (``name==version`` lines, hashes ignored).

    Entries whose environment marker does not hold for this interpreter (``colorama ;
    sys_platform == 'win32'`` on Linux) are left out unless ``all_platforms``.

    >>> lock_pins("numpy==2.4.6 \\\n    --hash=sha256:00\ncolorama==0.4.6 ; sys_platform == 'x'\n")
    {'numpy': '2.4.6'}
    """
    pins = {}
    for line in text.splitlines():
        m = _PIN.match(line.strip())
        if not m:
            continue
        name, version, marker = m[1], m[2], (m[3] or "").strip()
        if marker and not all_platforms and not _marker_holds(marker):
            continue
        pins[normalize(name)] = version
    return pins


def _marker_holds(marker: str) -> bool:
    try:
        from packaging.markers import Marker
    except ImportError:  # pragma: no cover - packaging comes with snakemake
        return True
    return Marker(marker).evaluate()


def lock_python(text: str) -> str | None:
    """The Python version a lock was resolved for (its ``# Python:`` header line)."""
    m = re.search(r"^# Python: resolved for \S+ ([0-9.]+)", text, re.M)
    return m[1] if m else None


def lock_differences(pins: dict[str, str], installed: dict[str, str]) -> list[str]:
    """How an environment differs from a lock, one line per distribution (empty: none).

    The project itself (``energy-routing``) is installed from source, not from the lock.

    >>> lock_differences({"numpy": "2.4.6", "six": "1"}, {"numpy": "2.4.5", "tqdm": "4"})
    ['numpy: 2.4.6 in the lock, 2.4.5 installed', 'six: 1 in the lock, not installed', \
'tqdm: 4 installed, not in the lock']
    """
    out = []
    for name in sorted(set(pins) | set(installed)):
        if name in NOT_LOCKED:
            continue
        want, have = pins.get(name), installed.get(name)
        if want == have:
            continue
        if have is None:
            out.append(f"{name}: {want} in the lock, not installed")
        elif want is None:
            out.append(f"{name}: {have} installed, not in the lock")
        else:
            out.append(f"{name}: {want} in the lock, {have} installed")
    return out


def _is_repository(root: Path) -> bool:
    return (root / "Snakefile").is_file() and (root / "pyproject.toml").is_file()


def source_root(results: str | Path | None = None) -> Path | None:
    """The repository that made ``results`` (its parent, when it holds the workflow), else
    the one this package is imported from; None for an installed copy outside both."""
    candidates = [Path(results).resolve().parent] if results is not None else []
    candidates.append(Path(__file__).resolve().parents[2])
    return next((root for root in candidates if _is_repository(root)), None)


def _skipped(rel: Path) -> bool:
    return any(
        part.startswith(".") or part == "__pycache__" or part.endswith(".egg-info")
        for part in rel.parts
    ) or rel.suffix in (".pyc", ".pyo")


def source_files(root: str | Path) -> dict[str, Path]:
    """The files of ``root`` that go into ``source/``, by archive member name."""
    root = Path(root)
    files = {}
    for item in SOURCE_ITEMS:
        path = root / item
        paths = sorted(path.rglob("*")) if path.is_dir() else [path]
        for p in paths:
            rel = p.relative_to(root)
            if p.is_file() and not _skipped(rel):
                files[f"{SOURCE}/{rel.as_posix()}"] = p
    return files


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


def _environment(lock_text: str | None) -> dict:
    installed = installed_versions()
    env = {"python": python_info(), "installed": installed, "lock": None}
    if lock_text is not None:
        env["lock"] = {
            "file": f"{SOURCE}/{LOCK}",
            "sha256": _sha256(lock_text.encode()),
            "python": lock_python(lock_text),
            "differences": lock_differences(lock_pins(lock_text), installed),
        }
    return env


def create(
    out: str | Path,
    *,
    results: str | Path,
    config: str | Path,
    skip: tuple[str, ...] = ("logs", "benchmarks"),
    only: list | None = None,
    source: str | Path | bool = True,
) -> dict:
    """Pack ``results``, ``config`` and the source with a manifest into ``out`` (atomically).

    ``only`` restricts the archive to those files under ``results`` (the Snakemake target
    passes the outputs of the current run, so files left by earlier configs stay out).
    ``source`` is the repository to pack under ``source/``: ``True`` (default) for the
    workflow directory holding ``results`` or else the checkout this package is imported
    from (see :func:`source_root`), ``False`` for none.
    Returns the manifest: ``files`` lists the results and the config, ``source.files`` the
    source, ``python``, ``installed`` and ``lock`` the environment. Members are stored in
    sorted order with fixed ownership, modes and times, so the content list is reproducible.
    """
    files = _members(Path(results), Path(config), skip, only)
    root = source_root(results) if source is True else (Path(source) if source else None)
    sources = source_files(root) if root is not None else {}
    payload = {name: path.read_bytes() for name, path in {**files, **sources}.items()}
    lock_member = f"{SOURCE}/{LOCK}"
    lock_text = payload[lock_member].decode() if lock_member in payload else None

    def listing(names) -> dict:
        return {n: {"sha256": _sha256(payload[n]), "bytes": len(payload[n])} for n in names}

    manifest = {
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git_revision": git_revision(root or Path(__file__).parent),
        "package_versions": package_versions(),
        **_environment(lock_text),
        "files": listing(files),
        "source": {"root": SOURCE, "files": listing(sources)} if sources else None,
    }
    payload[MANIFEST] = json.dumps(manifest, indent=2, sort_keys=True).encode()
    with atomic_output(out) as tmp, tarfile.open(tmp, "w:gz") as tar:
        for name in [MANIFEST, *sorted(set(payload) - {MANIFEST})]:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(payload[name]), 0o644, 0
            tar.addfile(info, io.BytesIO(payload[name]))
    return manifest


def expected_files(manifest: dict) -> dict[str, dict]:
    """Every member a manifest lists (results, config and source) with its checksum."""
    return {**manifest["files"], **((manifest.get("source") or {}).get("files") or {})}


def load(path: str | Path) -> tuple[dict, dict[str, bytes]]:
    """The manifest and every member of a verified archive (see :func:`verify`)."""
    path = Path(path)
    try:
        with tarfile.open(path, "r:gz") as tar:
            data = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    except (OSError, tarfile.TarError, EOFError) as err:
        raise ArchiveError(f"{path}: cannot be read as a tar.gz archive ({err})") from None
    if MANIFEST not in data:
        raise ArchiveError(f"{path}: no {MANIFEST} inside")
    try:
        manifest = json.loads(data.pop(MANIFEST))
        expected = {n: e["sha256"] for n, e in expected_files(manifest).items()}
        _ = manifest["created"], manifest["git_revision"]  # what the CLI prints
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise ArchiveError(
            f"{path}: its {MANIFEST} is not a manifest of this package "
            f"({type(err).__name__}: {err})"
        ) from None
    problems = [f"missing {n}" for n in sorted(set(expected) - set(data))]
    problems += [f"unexpected {n}" for n in sorted(set(data) - set(expected))]
    problems += [
        f"altered {n}" for n in sorted(set(data) & set(expected)) if _sha256(data[n]) != expected[n]
    ]
    if problems:
        raise ArchiveError(f"{path}: does not match its manifest: " + "; ".join(problems))
    return manifest, data


def verify(path: str | Path) -> dict:
    """Check every member of an archive against its manifest; return the manifest.

    Raises
    ------
    ArchiveError
        Naming the archive and every missing, unexpected or altered member.
    """
    return load(path)[0]


def default_name(name: str, today: dt.date | None = None) -> str:
    """``archive/<name>-<YYYY-MM-DD>.tar.gz``."""
    return f"archive/{name}-{(today or dt.date.today()).isoformat()}.tar.gz"

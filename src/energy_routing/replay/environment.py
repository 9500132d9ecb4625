"""The environment of a replay: the archived lock installed in a new virtualenv.

The lock goes in with ``pip install --require-hashes -r requirements.lock``, then the
archived package with ``pip install --no-deps -e``. A pin pip cannot install is read from
its output (:func:`unavailable_pins`) and dropped from a hash-free copy of the lock
(:func:`relaxed_lock`), so pip takes the newest version it finds, and the report names it;
a file whose hash does not match is refused, never replaced. :func:`env_versions` lists the
distributions of an interpreter, :func:`default_python` picks the archived run's Python when
it is on PATH, and :class:`ReplayError` says why a replay could not be carried out.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from energy_routing.errors import EnergyRoutingError
from energy_routing.replay import archive


class ReplayError(EnergyRoutingError):
    """A replay could not be carried out (no environment, the rerun failed, bad workdir)."""


# --------------------------------------------------------------------------- environment


_NOT_FOUND = re.compile(
    r"(?:No matching distribution found for|Could not find a version that satisfies the "
    r"requirement)\s+([A-Za-z0-9._-]+)==([^\s;(]+)"
)
_HASH_MISMATCH = re.compile(r"^\s+([A-Za-z0-9._-]+)==([^\s]+) from ", re.M)


def unavailable_pins(pip_output: str) -> list[tuple[str, str, str]]:
    """The pins pip could not install, from its output: ``(name, version, why)``.

    >>> unavailable_pins("ERROR: No matching distribution found for numpy==9.9.9")
    [('numpy', '9.9.9', 'no such version on the index')]
    """
    found = {
        (archive.normalize(m[1]), m[2], "no such version on the index")
        for m in _NOT_FOUND.finditer(pip_output)
    }
    if "DO NOT MATCH THE HASHES" in pip_output:
        found |= {
            (archive.normalize(m[1]), m[2], "its files do not match the locked hashes")
            for m in _HASH_MISMATCH.finditer(pip_output)
        }
    return sorted(found)


def relaxed_lock(text: str, drop: set[str]) -> str:
    """The lock without hashes, the pins of ``drop`` replaced by the bare name.

    >>> relaxed_lock("a==1 \\\\\\n    --hash=sha256:00\\nb==2 ; sys_platform == 'x'\\n", {"a"})
    "a\\nb==2 ; sys_platform == 'x'\\n"
    """
    out = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", "--hash")):
            continue
        spec = stripped.rstrip("\\").strip()
        name = re.split(r"[=<>!~;\[ ]", spec, maxsplit=1)[0]
        out.append(name if archive.normalize(name) in drop else spec)
    return "\n".join(out) + "\n"


def env_versions(python: str | Path) -> dict[str, str]:
    """Every distribution of the environment of the interpreter ``python``."""
    code = (
        "import json, re; from importlib import metadata; print(json.dumps({"
        "re.sub(r'[-_.]+', '-', d.metadata['Name']).lower(): d.version "
        "for d in metadata.distributions() if d.metadata['Name']}))"
    )
    proc = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
    return dict(sorted(json.loads(proc.stdout).items())) if proc.returncode == 0 else {}


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return {**env, "PYTHONDONTWRITEBYTECODE": "1", **extra}


def default_python(manifest: dict) -> str:
    """``pythonX.Y`` of the archived run if on PATH, else this interpreter."""
    version = (manifest.get("python") or {}).get("version", "")
    short = ".".join(version.split(".")[:2])
    found = shutil.which(f"python{short}") if short else None
    return found or sys.executable


def _run(cmd: list[str], log: Path, *, cwd: Path | None = None, env=None):
    with log.open("a") as f:
        f.write(f"\n$ {' '.join(map(str, cmd))}\n")
        f.flush()
        proc = subprocess.run(
            [str(c) for c in cmd], cwd=cwd, env=env or _clean_env(), capture_output=True, text=True
        )
        f.write(proc.stdout + proc.stderr)
    return proc


def _tail(text: str, n: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-n:])


def _install(
    python: str, venv: Path, source: Path, log: Path, say: Callable[[str], None]
) -> tuple[Path, list[str]]:
    """A new virtualenv with the lock of ``source``, then the package; its python."""
    notes = []
    lock = source / archive.LOCK
    if not lock.is_file():
        raise ReplayError(f"no {archive.LOCK} in the source: nothing to install from")
    proc = _run([python, "-m", "venv", venv], log)
    if proc.returncode != 0:
        raise ReplayError(f"{python} -m venv failed:\n{_tail(proc.stdout + proc.stderr)}")
    py = venv / "bin" / "python"
    say(f"installing the locked environment into {venv} (a few minutes) ...")
    cmd = [py, "-m", "pip", "install", "--quiet", "--require-hashes", "-r", lock]
    proc = _run(cmd, log)
    dropped: dict[str, tuple[str, str]] = {}
    while proc.returncode != 0:
        bad = [b for b in unavailable_pins(proc.stdout + proc.stderr) if b[0] not in dropped]
        tampered = [f"{n}=={v}" for n, v, why in bad if "hashes" in why]
        if tampered:  # never replaced: the index may serve other files than were locked
            raise ReplayError(
                f"refusing to install {', '.join(tampered)}: the files on the index do not "
                f"match the locked hashes (see {log})"
            )
        if not bad or len(dropped) > 20:
            raise ReplayError(
                f"the locked environment could not be installed (see {log}):\n"
                f"{_tail(proc.stdout + proc.stderr)}"
            )
        for name, version, why in bad:
            dropped[name] = (version, why)
            say(f"{name}=={version} cannot be installed ({why}); trying the newest {name}")
        relaxed = venv.parent / "relaxed.lock"
        relaxed.write_text(relaxed_lock(lock.read_text(), set(dropped)))
        proc = _run([py, "-m", "pip", "install", "--quiet", "-r", relaxed], log)
    proc = _run(
        [py, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "-e", source],
        log,
    )
    if proc.returncode != 0:
        raise ReplayError(f"installing the package failed:\n{_tail(proc.stdout + proc.stderr)}")
    for name, (version, why) in sorted(dropped.items()):
        notes.append(f"{name}=={version} could not be installed ({why}); another version was")
    return py, notes


def _env_notes(manifest: dict, python: Path | str) -> list[str]:
    notes = []
    want = (manifest.get("python") or {}).get("version")
    proc = subprocess.run(
        [str(python), "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
    )
    have = proc.stdout.strip()
    if want and have and want != have:
        notes.append(f"Python {want} (archived run) -> {have} (replay)")
    archived = manifest.get("installed")
    if archived:
        here = env_versions(python)
        for name in sorted(set(archived) | set(here)):
            if name in archive.NOT_LOCKED or archived.get(name) == here.get(name):
                continue
            notes.append(
                f"{name}: {archived.get(name, 'not installed')} (archived run) -> "
                f"{here.get(name, 'not installed')} (replay)"
            )
    return notes

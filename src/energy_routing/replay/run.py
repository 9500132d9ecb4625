"""Replaying an archive: its source, its environment, its config rerun, every result compared.

:func:`replay` verifies an archive (:mod:`energy_routing.replay.archive`) and then, in a fresh
working directory, (1) takes the source of the results: the archive's ``source/`` by default,
or the current checkout (``source="checkout"``, also for archives made without one; see
:data:`CHECKOUT_IGNORE`); (2) sets up the environment: a new virtualenv with exactly the
archived lock (:mod:`energy_routing.replay.environment`), or the running one
(``install=False``); (3) reruns the archived config with Snakemake, asking for exactly the
archived results; (4) compares each of them with its replay
(:func:`energy_routing.replay.compare.compare_file`). The :class:`Report` says whether the
replay is identical, what differs file by file, and what in the environment (Python,
package versions, packages that could not be installed) differs and may explain it.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from energy_routing.replay import archive
from energy_routing.replay.compare import FIGURE_SUFFIXES, FileResult, compare_file
from energy_routing.replay.environment import (
    ReplayError,
    _clean_env,
    _env_notes,
    _install,
    _run,
    _tail,
    default_python,
)

#: What the replay leaves out when it copies a checkout (``source="checkout"``).
CHECKOUT_IGNORE = shutil.ignore_patterns(
    ".venv",
    ".git",
    "results",
    ".snakemake",
    "__pycache__",
    ".hypothesis",
    ".pytest_cache",
    ".ruff_cache",
    "archive",
    "build",
    "*.egg-info",
    "docs",
)


# --------------------------------------------------------------------------- the replay


@dataclass
class Report:
    """What a replay did and found."""

    archive: str
    manifest: dict
    workdir: Path | None = None
    source: str = ""
    environment: str = ""
    env_notes: list[str] = field(default_factory=list)
    rerun: str = ""
    error: str | None = None
    against: bool = False
    files: list[FileResult] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return self.error is None and all(f.ok for f in self.files)

    @property
    def differing(self) -> list[FileResult]:
        return [f for f in self.files if not f.ok]

    def render(self) -> str:
        m = self.manifest
        lines = [
            f"replay of {self.archive} (created {m.get('created', '?')}, "
            f"git {m.get('git_revision', '?')})"
        ]
        if self.workdir is not None:
            lines.append(f"  workdir: {self.workdir}")
        if self.source:
            lines.append(f"  source: {self.source}")
        if self.environment:
            lines.append(f"  environment: {self.environment}")
        if self.env_notes:
            lines.append("  environment differs from the archived run's:")
            lines += [f"    {n}" for n in self.env_notes]
        if self.rerun:
            lines.append(f"  rerun: {self.rerun}")
        if self.files:
            n_bytes = sum(f.status == "identical" and f.how == "bytes" for f in self.files)
            n_ok = sum(f.ok for f in self.files)
            lines.append(
                f"  results: {len(self.files)} files: {n_ok} identical "
                f"({n_bytes} byte for byte, {n_ok - n_bytes} by their values or data), "
                f"{len(self.differing)} differ"
            )
            for f in self.files:
                if not f.ok:
                    lines.append(
                        f"  DIFFERS {f.name} (compared: {f.how or 'presence'}; archived -> replay):"
                    )
                    lines += [f"    {d}" for d in f.details]
        if self.error:
            lines.append(f"replay: FAILED: {self.error}")
        elif self.identical:
            lines.append(f"replay: identical ({len(self.files)} result files)")
        else:
            if self.against:
                why = "compared with results made elsewhere, whose environment was not checked"
            elif self.env_notes:
                why = "the environment differs from the archived run's (see above): a likely cause"
            else:
                why = (
                    "same source and package versions: a change of machine (CPU features "
                    "used by numba or BLAS) or a nondeterminism"
                )
            lines.append(f"replay: DIFFERENT: {len(self.differing)} files differ; {why}")
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {
            "archive": self.archive,
            "identical": self.identical,
            "error": self.error,
            "source": self.source,
            "environment": self.environment,
            "environment_differences": self.env_notes,
            "rerun": self.rerun,
            "files": [f.__dict__ for f in self.files],
        }


def _prepare_workdir(workdir: str | Path | None) -> tuple[Path, bool]:
    if workdir is None:
        return Path(tempfile.mkdtemp(prefix="energy-routing-replay-")), True
    path = Path(workdir)
    if path.exists() and any(path.iterdir()):
        raise ReplayError(f"{path}: the workdir must be new or empty")
    path.mkdir(parents=True, exist_ok=True)
    return path, False


def _write(members: dict[str, bytes], prefix: str, dest: Path) -> None:
    for name, data in members.items():
        if name.startswith(prefix):
            target = dest / name[len(prefix) :]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)


def replay(
    path: str | Path,
    *,
    workdir: str | Path | None = None,
    keep: bool = False,
    cores: int = 2,
    python: str | None = None,
    install: bool = True,
    source: str = "archive",
    against: str | Path | None = None,
    say: Callable[[str], None] = lambda msg: None,
) -> Report:
    """Replay the archive ``path`` and compare its results (see the module docstring).

    Parameters
    ----------
    workdir
        Where to work (must be new or empty; kept). Default: a new temporary directory,
        removed afterwards unless ``keep``.
    cores
        Snakemake's ``--cores`` for the rerun.
    python
        The interpreter of the new virtualenv; default ``pythonX.Y`` of the archived run if
        on PATH, else the running one.
    install
        False: no new environment, rerun with the running interpreter and its packages.
    source
        ``"archive"`` (the archived source; the checkout when the archive has none) or
        ``"checkout"`` (the repository this package is imported from).
    against
        Compare with the results already in this directory (a workflow directory holding
        ``results/``) instead of rerunning; nothing is installed or run.
    say
        Called with progress messages.
    """
    manifest, members = archive.load(path)
    report = Report(str(path), manifest)
    work, temporary = _prepare_workdir(workdir)
    report.workdir = work if (keep or not temporary) else None
    start = time.monotonic()
    try:
        expected = work / "archived"
        _write(members, "results/", expected / "results")
        _write(members, "config/", expected / "config")
        results = sorted(n for n in manifest["files"] if n.startswith("results/"))
        if against is not None:
            run_dir, report.against = Path(against), True
            report.source = f"none: comparing with the results in {run_dir}"
        else:
            run_dir = work / "run"
            report.source = _take_source(members, manifest, source, run_dir)
            report.environment, py = _environment(manifest, work, run_dir, python, install, say)
            report.env_notes += _env_notes(manifest, py)
            say(f"rerunning the archived config with snakemake ({cores} cores) ...")
            report.rerun = _rerun(py, run_dir, expected, manifest, results, cores, work)
        say("comparing ...")
        compared: dict[str, FileResult] = {}
        figures = [n for n in results if Path(n).suffix.lower() in FIGURE_SUFFIXES]
        for name in [n for n in results if n not in figures] + figures:
            compared[name] = compare_file(
                name, expected / name, run_dir / name, compared=compared, run_dir=run_dir
            )
        report.files = [compared[n] for n in results]
    except ReplayError as err:
        report.error = str(err)
    finally:
        if report.workdir is not None:
            (work / "replay-report.txt").write_text(report.render() + "\n")
            (work / "replay-report.json").write_text(json.dumps(report.to_json(), indent=2))
        elif temporary:
            shutil.rmtree(work, ignore_errors=True)
    report.rerun += f"; replay took {time.monotonic() - start:.0f} s" if report.rerun else ""
    return report


def _take_source(members: dict, manifest: dict, source: str, run_dir: Path) -> str:
    prefix = f"{archive.SOURCE}/"
    has_source = bool(manifest.get("source"))
    if source == "archive" and has_source:
        _write(members, prefix, run_dir)
        n = len(manifest["source"]["files"])
        return f"the archive's ({n} files, git {manifest.get('git_revision', '?')})"
    root = archive.source_root()
    if root is None:
        raise ReplayError("the archive holds no source and this package is not run from a checkout")
    shutil.copytree(root, run_dir, ignore=CHECKOUT_IGNORE)
    from energy_routing.io.provenance import git_revision

    why = "" if source == "checkout" else " (the archive holds none)"
    return f"the current checkout {root}{why}, git {git_revision(root)}"


def _environment(manifest, work, run_dir, python, install, say) -> tuple[str, Path]:
    if not install:
        return f"the running one ({sys.executable}), not installed from the lock", Path(
            sys.executable
        )
    python = python or default_python(manifest)
    py, notes = _install(python, work / "venv", run_dir, work / "install.log", say)
    lock = run_dir / archive.LOCK
    n = len(archive.lock_pins(lock.read_text()))
    desc = f"new virtualenv {work / 'venv'} from the archived lock ({n} packages), {python}"
    if notes:
        desc += "; " + "; ".join(notes)
    return desc, py


def _rerun(py, run_dir, expected, manifest, results, cores, work) -> str:
    configs = [n for n in manifest["files"] if n.startswith("config/")]
    # Targets first: --configfile takes any number of values.
    cmd = [py, "-m", "snakemake", *results, "--snakefile", run_dir / "Snakefile"]
    cmd += ["--directory", run_dir]
    profile = run_dir / "workflow" / "profiles" / "default"
    if profile.is_dir():
        cmd += ["--workflow-profile", profile]
    cmd += ["--cores", str(cores)]
    if configs:
        cmd += ["--configfile", expected / configs[0]]
    env = _clean_env(PYTHONPATH=str(run_dir / "src"))
    t0 = time.monotonic()
    proc = _run(cmd, work / "snakemake.log", cwd=run_dir, env=env)
    if proc.returncode != 0:
        raise ReplayError(
            f"the rerun failed (log: {work / 'snakemake.log'}):\n{_tail(proc.stderr, 25)}"
        )
    return f"snakemake, {cores} cores, {time.monotonic() - t0:.0f} s"

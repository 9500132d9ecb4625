"""Running the real Snakemake on a copy of the repository, for the workflow tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from energy_routing.replay.run import CHECKOUT_IGNORE

ROOT = Path(__file__).resolve().parents[1]
# What a copy of the checkout leaves out: the same list the replay uses.
IGNORE = CHECKOUT_IGNORE


def copy_repo(dst: Path) -> Path:
    """A copy of the sources (no results, no virtualenv) to run Snakemake in."""
    shutil.copytree(ROOT, dst, ignore=IGNORE, dirs_exist_ok=True)
    return dst


def snakemake_cmd(
    workdir: Path, *args: str, config: Path | None = None, profile: str = "default"
) -> list[str]:
    """The command a user runs (``make run``): the workflow profile, two cores."""
    return [
        sys.executable,
        "-m",
        "snakemake",
        "--workflow-profile",
        str(workdir / "workflow" / "profiles" / profile),
        "--cores",
        "2",
        "--snakefile",
        str(workdir / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(config or workdir / ".test" / "config.yaml"),
        *args,
    ]


def run_snakemake(
    workdir: Path,
    *args: str,
    config: Path | None = None,
    check=True,
    timeout=900,
    profile: str = "default",
) -> subprocess.CompletedProcess:
    """Run Snakemake in ``workdir`` under umask 022 (a usual login's); with ``check``, fail
    the test on a non-zero exit."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run(
        snakemake_cmd(workdir, *args, config=config, profile=profile),
        cwd=workdir,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        preexec_fn=lambda: os.umask(0o022),
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    return proc

"""Where a result came from: package versions, the git revision and the config."""

from __future__ import annotations

import json
import subprocess
from importlib import metadata
from pathlib import Path

PACKAGES = (
    "energy-routing",
    "numpy",
    "scipy",
    "pandas",
    "xarray",
    "netCDF4",
    "statsmodels",
    "seaborn",
    "matplotlib",
    "numba",
    "snakemake",
)


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that shape the results."""
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def git_revision(path: str | Path = ".") -> str:
    """The commit of the working tree at ``path`` (``+dirty`` when it has changes).

    Returns ``"unknown"`` outside a git checkout.
    """
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=path, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=path,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return rev + ("+dirty" if dirty.strip() else "")


def provenance(cfg: dict) -> dict[str, str]:
    """Flat string attributes for a NetCDF file or a manifest."""
    return {
        "config_json": json.dumps(cfg, sort_keys=True),
        "package_versions_json": json.dumps(package_versions(), sort_keys=True),
        "git_revision": git_revision(Path(__file__).parent),
    }

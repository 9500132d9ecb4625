"""Where a result came from: package versions, the git revision and the config.

Also the CF global attributes (CF-1.11 §2.6) every NetCDF file of the pipeline carries:
:func:`cf_global_attrs` builds them, :func:`provenance` and
:func:`energy_routing.io.netcdf.result_to_dataset` add them. They hold no wall-clock time and
no host name, so the same code and config give the same attributes on every run.
"""

from __future__ import annotations

import json
import subprocess
from importlib import metadata
from pathlib import Path

from energy_routing import __version__

#: CF version the NetCDF files follow (global attribute ``Conventions``).
CONVENTIONS = "CF-1.11"

#: Global attribute ``institution``: no institution is configured, so the producer is named.
INSTITUTION = "energy-routing reference implementation (no institution configured)"

#: Global attribute ``references``: the paper the model follows, and its spec in the repository.
REFERENCES = (
    "Ellis-Mohr, Hartman, Varshney: Energy-Aware Routing to Large Reasoning Models, "
    "arXiv:2601.00823, https://arxiv.org/abs/2601.00823; model spec: docs/model.md"
)

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


def cf_global_attrs(history: str, title: str | None = None) -> dict[str, str]:
    """CF global attributes (CF-1.11 §2.6.1-2.6.2) of a dataset made by this package.

    Parameters
    ----------
    history : str
        The steps that made the data, one per line, without timestamps (a rerun of the
        same config must give the same attributes; the git revision and package versions
        are stored in attributes of their own).
    title : str, optional
        What the file holds, one line; left out when None (the dataset sets its own).

    Returns
    -------
    dict of str
        ``Conventions``, ``title`` (if given), ``institution``, ``source``,
        ``references`` and ``history``.

    Examples
    --------
    >>> sorted(cf_global_attrs("made here", title="t"))
    ['Conventions', 'history', 'institution', 'references', 'source', 'title']
    """
    attrs = {
        "Conventions": CONVENTIONS,
        "institution": INSTITUTION,
        "source": f"energy-routing {__version__}: analytic model and Monte Carlo simulation",
        "references": REFERENCES,
        "history": history,
    }
    if title is not None:
        attrs["title"] = title
    return attrs


def provenance(cfg: dict) -> dict[str, str]:
    """Flat string attributes for a NetCDF file or a manifest.

    The configuration, package versions and git revision, and the CF global attributes
    of :func:`cf_global_attrs` except ``title``, which the dataset itself carries (for
    example :func:`energy_routing.model.grids.task_grid`), so that adding these attributes
    keeps it.
    """
    history = f"energy-routing {__version__}: computed from the configuration in config_json"
    return {
        **cf_global_attrs(history),
        "config_json": json.dumps(cfg, sort_keys=True),
        "package_versions_json": json.dumps(package_versions(), sort_keys=True),
        "git_revision": git_revision(Path(__file__).parent),
    }

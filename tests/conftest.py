"""Shared fixtures: the default config and grid, and real Snakemake runs of the tiny config.

Workflow tests run Snakemake on a copy of the repository in a temporary directory, so they
can edit sources or break files without touching the checkout.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from snakerun import ROOT, copy_repo, run_snakemake

from energy_routing import config
from energy_routing.model import grids


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """Under pytest-xdist with ``--dist loadgroup`` (``make test-e2e``), every test of one
    whole-pipeline run goes to the same worker, so each run is made once per session, not
    once per worker: the session's tiny and single runs by fixture, and each end-to-end
    module's own runs (module-scoped fixtures) by module. It runs before xdist's own hook,
    which reads the groups."""
    for item in items:
        runs = [r for r in ("tiny_run", "single_run") if r in getattr(item, "fixturenames", ())]
        group = runs[0] if runs else item.nodeid.split("::")[0]
        item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(scope="session")
def default_cfg() -> dict:
    return config.load(ROOT / "config" / "config.yaml")


@pytest.fixture(scope="session")
def default_grid(default_cfg):
    return grids.task_grid(default_cfg)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """The whole pipeline on .test/config.yaml, run once per session."""
    work = copy_repo(tmp_path_factory.mktemp("tiny"))
    run_snakemake(work)
    return work


@pytest.fixture(scope="session")
def single_run(tmp_path_factory) -> Path:
    """The whole pipeline on .test/single.yaml (one model, no sweep), once per session."""
    work = copy_repo(tmp_path_factory.mktemp("single"))
    run_snakemake(work, config=work / ".test" / "single.yaml")
    return work

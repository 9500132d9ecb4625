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

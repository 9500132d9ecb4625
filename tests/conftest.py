"""Shared fixtures: the default config, validated, and its task grid."""

from __future__ import annotations

from pathlib import Path

import pytest

from energy_routing import config, grids

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def default_cfg() -> dict:
    return config.load(ROOT / "config" / "config.yaml")


@pytest.fixture(scope="session")
def default_grid(default_cfg):
    return grids.task_grid(default_cfg)

"""The tiny config's Monte Carlo stage through a real Slurm, against a local run.

Runs only where a Slurm controller answers (``bash .ci/slurm.sh start`` sets one up); with
``ENERGY_ROUTING_REQUIRE_SLURM=1`` (as in CI) a missing cluster is a failure, not a skip.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from snakerun import copy_repo, run_snakemake

from energy_routing.io import netcdf

pytestmark = pytest.mark.slow
TARGET = "results/mc/fig4.nc"


def _cluster_up() -> bool:
    try:
        out = subprocess.run(
            ["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, timeout=20
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and bool({"idle", "mix"} & set(out.stdout.split()))


@pytest.fixture(scope="module")
def cluster():
    if not _cluster_up():
        if os.environ.get("ENERGY_ROUTING_REQUIRE_SLURM") == "1":
            pytest.fail("no idle Slurm node; run `bash .ci/slurm.sh start` first")
        pytest.skip("no Slurm cluster here (bash .ci/slurm.sh start sets one up)")


def _run(work: Path, profile: str, *extra: str) -> Path:
    copy_repo(work)
    run_snakemake(work, *extra, "--", TARGET, profile=profile, timeout=960)
    return work


def _sha(path: Path) -> str:
    return netcdf.data_sha256(netcdf.open_checked(path))


def test_slurm_run_equals_local_run(cluster, tmp_path):
    local = _run(tmp_path / "local", "default")
    slurm = _run(
        tmp_path / "slurm",
        "slurm",
        "--slurm-status-command",
        "squeue",
        "--slurm-init-seconds-before-status-checks",
        "2",
        "--slurm-keep-successful-logs",
        "--jobs",
        "4",
        "--latency-wait",
        "10",
    )
    logs = list((slurm / ".snakemake" / "slurm_logs").rglob("*.log"))
    assert any("mc_shard" in str(p) for p in logs), "no shard ran as a Slurm job"
    assert _sha(local / TARGET) == _sha(slurm / TARGET)
    shards = sorted((local / "results" / "mc" / "shards").rglob("*.nc"))
    assert shards
    for path in shards:
        assert _sha(path) == _sha(slurm / path.relative_to(local))

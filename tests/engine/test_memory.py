"""Memory of a Monte Carlo shard, measured: flat in the horizon, within what the plan reserves.

``resources.shard_memory_mb`` is what the workflow asks a scheduler for; a shard that needs
more is killed on a cluster. The engine's arrays are numpy arrays (the numba kernels
allocate nothing), which :mod:`tracemalloc` sees; the interpreter and the compiled
kernels are measured as the peak resident set of a fresh process.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import tracemalloc

import numpy as np
import pytest
from snakerun import ROOT

from energy_routing.engine import driver
from energy_routing.model import grids
from energy_routing.stages import resources

CHECKPOINTS = 120
MB = 2**20


@pytest.fixture(scope="module")
def workload(default_cfg, default_grid):
    wl = grids.workload(default_grid, default_cfg)
    # Compile (or load) the numba kernels before anything is measured.
    driver.simulate(
        wl, routing_error=0.05, checkpoints=[10, 100], trials=1, root_seed=0, scenario_key=0
    )
    return wl


def traced_peak_mb(fn) -> float:
    """Peak of the memory traced by tracemalloc while ``fn`` runs, above the start [MB]."""
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        fn()
        return (tracemalloc.get_traced_memory()[1] - base) / MB
    finally:
        if started:
            tracemalloc.stop()


def run_shard(wl, horizon: int, trials: int, chunk_slots: int, threads: int = 1):
    return driver.simulate(
        wl,
        routing_error=0.05,
        checkpoints=driver.log_checkpoints(10, horizon, CHECKPOINTS),
        trials=trials,
        root_seed=2601,
        scenario_key=0,
        chunk_slots=chunk_slots,
        n_threads=threads,
    )


def test_tracemalloc_sees_numpy_arrays():
    """The instrument works: an O(T) array of 1e6 slots would show as 7.6 MB."""
    assert traced_peak_mb(lambda: np.ones(1_000_000)) == pytest.approx(8e6 / MB, rel=0.01)


def test_shard_memory_is_flat_in_the_horizon(workload):
    chunk = 4096  # every horizon spans several chunks
    peaks = {
        horizon: traced_peak_mb(lambda h=horizon: run_shard(workload, h, 2, chunk))
        for horizon in (10_000, 100_000, 1_000_000)
    }
    # A hundred times the horizon, (almost) the same memory: one float64 per slot kept
    # anywhere would add 7.6 MB at T = 1e6.
    assert max(peaks.values()) <= 1.5 * peaks[10_000], peaks
    reserved = resources.shard_memory_mb(2, CHECKPOINTS, chunk) - resources.BASE_MB
    assert max(peaks.values()) <= reserved, (peaks, reserved)


@pytest.mark.parametrize(
    ("trials", "horizon", "threads"),
    [(2, 1_000_000, 1), (2, 1_000_000, 2), (200, 10_000, 1)],
    ids=["long", "long-2-threads", "many-trials"],
)
def test_shard_arrays_fit_the_plan(workload, default_cfg, trials, horizon, threads):
    """Engine buffers (per thread) and records (per trial) within the reservation."""
    chunk = default_cfg["montecarlo"]["chunk_slots"]
    peak = traced_peak_mb(lambda: run_shard(workload, horizon, trials, chunk, threads))
    reserved = resources.shard_memory_mb(trials, CHECKPOINTS, chunk, threads) - resources.BASE_MB
    assert peak <= reserved, (peak, reserved)


def test_plan_reserves_the_memory_of_each_extra_thread(workload, default_cfg):
    chunk = default_cfg["montecarlo"]["chunk_slots"]
    one, two = (
        traced_peak_mb(lambda n=n: run_shard(workload, 200_000, 2, chunk, n)) for n in (1, 2)
    )
    assert two > 1.5 * one  # every worker thread has its own chunk buffers
    extra = resources.shard_memory_mb(2, CHECKPOINTS, chunk, 2) - resources.shard_memory_mb(
        2, CHECKPOINTS, chunk, 1
    )
    assert extra >= two - one, (one, two, extra)


SHARD_SCRIPT = textwrap.dedent(
    """
    import json, resource, sys
    from energy_routing import config
    from energy_routing.engine import driver
    from energy_routing.io import netcdf
    from energy_routing.model import grids
    from energy_routing.theory import moments

    cfg = config.load(sys.argv[1])
    mc = cfg["montecarlo"]
    wl = grids.workload(grids.task_grid(cfg), cfg)
    result = driver.simulate(
        wl,
        routing_error=0.05,
        checkpoints=driver.log_checkpoints(mc["t_min"], mc["t_max"], mc["checkpoints"]),
        trials=range(2),
        root_seed=mc["seed"],
        scenario_key=0,
        chunk_slots=mc["chunk_slots"],
    )
    mu, sigma = moments.drift_volatility(wl, 0.05)
    ds = netcdf.result_to_dataset(result, routing_error=0.05, mu=mu, sigma=sigma, attrs={})
    netcdf.write_netcdf_atomic(ds, sys.argv[2])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"peak_mb": peak / (2**20 if sys.platform == "darwin" else 2**10)}))
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="resource module is POSIX only")
def test_shard_process_fits_the_plan(default_cfg, tmp_path):
    """A fresh interpreter running a default-horizon shard (T = 1e6) stays within the
    reservation, interpreter, libraries and compiled kernels included."""
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            SHARD_SCRIPT,
            str(ROOT / "config" / "config.yaml"),
            str(tmp_path / "shard.nc"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    peak = json.loads(out.stdout.strip().splitlines()[-1])["peak_mb"]
    mc = default_cfg["montecarlo"]
    reserved = resources.shard_memory_mb(2, mc["checkpoints"], mc["chunk_slots"], 1)
    assert peak <= reserved, (peak, reserved)

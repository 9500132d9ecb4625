"""False-positive rate of the transition test at a long horizon, on fresh engine data sets
(docs/model.md §11.6).

Critical Monte Carlo data sets of the default configuration (``config/config.yaml``,
provisioning 1, routing error 0, lumped consumption: the engine's fast path with the
i.i.d. harvest) are simulated with their own root seed and scenario key, so they share
nothing with ``validate_detector.py`` or the pipeline. Each data set of ``--trials`` trials
to ``--horizon`` slots (60 log-spaced checkpoints from 10) is put through
:func:`energy_routing.analysis.transition.detect_transition` twice, with the same statistic:

* with the walk's own step law as the null (``null_law`` = the lumped increment law of
  the workload, :func:`energy_routing.theory.increment.increment_law`), as the regimes
  stage runs it;
* with the Brownian null (the function's default), for comparison.

Every detection is a false positive. Rates come with Wilson and exact (Clopper-Pearson)
95 % intervals. Data set j uses null seed ``j % 8`` (the rate averages over eight null
samples of 2,000 data sets each). A small power check follows: data sets at routing error
0.05 (true T* = 44,142 slots) with the step-law null, and whether the T* interval from
the per-trial drifts covers the true T*.

Cost: 600 data sets of 200 trials to 1e5 slots are 1.2e10 engine slots, 24 s per block of
20 data sets on a free core (about 12 min; the engine spends three quarters of it drawing
random variates), plus about 10 s per step-law null seed and the power check. On a shared
machine, ``--blocks DIR`` keeps each block's results (a rerun resumes) and ``--shard i/n``
splits the blocks over processes; a last run without ``--shard`` assembles them.

Usage: ``python benchmarks/transition_calibration.py [--sets 600] [--threads 1]
[--quick]``; writes ``transition_calibration.json`` and ``transition_calibration.md``
(``--quick``: a small smoke run to ``transition_calibration_quick.*``).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from pathlib import Path

import numpy as np
from scipy.stats import binomtest

from energy_routing import __version__, config
from energy_routing.analysis.transition import detect_transition
from energy_routing.engine import driver, streams
from energy_routing.model import grids
from energy_routing.theory import increment, moments

ROOT = Path(__file__).resolve().parents[1]
ROOT_SEED = 2027  # not the pipeline's 2601: fresh data sets
KEY = "transition-calibration"
T_MIN, N_CHECKPOINTS = 10, 60
N_NULL_SEEDS = 8
BLOCK_SETS = 20  # data sets simulated per engine call
POWER_EPS = 0.05


def rate(k: int, n: int) -> dict:
    """A rate with its Wilson and exact 95 % intervals."""
    ci = binomtest(k, n)
    wilson = ci.proportion_ci(0.95, method="wilson")
    exact = ci.proportion_ci(0.95, method="exact")
    return {
        "detected": k,
        "datasets": n,
        "rate": k / n,
        "wilson95": [float(wilson.low), float(wilson.high)],
        "exact95": [float(exact.low), float(exact.high)],
    }


def simulate(workload, eps: float, trials: range, cps, threads: int):
    res = driver.simulate(
        workload,
        routing_error=eps,
        checkpoints=cps,
        trials=trials,
        root_seed=ROOT_SEED,
        scenario_key=streams.scenario_key(f"{KEY}-eps{eps}"),
        consumption=("lumped",),
        n_threads=threads,
    )
    return res.deficit_J[0], res.realised_drift_J_per_slot[0], res.increment_var_J2_per_slot[0]


def markdown(s: dict) -> str:
    def pct(r):
        w, e = r["wilson95"], r["exact95"]
        return (
            f"{100 * r['rate']:.1f} % (Wilson [{100 * w[0]:.1f}, {100 * w[1]:.1f}] %, "
            f"exact [{100 * e[0]:.1f}, {100 * e[1]:.1f}] %)"
        )

    c, p, u = s["critical"], s["power"], s["setup"]
    return (
        "| null of the test | critical data sets | false positives | rate (95 % intervals) |\n"
        "|---|---:|---:|---|\n"
        f"| the walk's own step law | {c['step_law']['datasets']} | "
        f"{c['step_law']['detected']} | {pct(c['step_law'])} |\n"
        f"| Brownian (the default without a law) | {c['brownian']['datasets']} | "
        f"{c['brownian']['detected']} | {pct(c['brownian'])} |\n\n"
        f"Fresh critical data sets of the default configuration (root seed {u['root_seed']}, "
        f"own scenario key), {u['trials']} trials each to T = {u['horizon']:,} slots "
        f"({u['n_checkpoints']} checkpoints from {u['t_min']}), lumped consumption; the same "
        "statistic against both nulls (2,000 null data sets, eight null seeds). Power at "
        f"routing error {p['routing_error']:g} (true T* = {p['true_t_star']:,.0f} slots) with "
        f"the step-law null: {p['detected']} of {p['datasets']} data sets detected, the T* "
        f"interval covers the true T* in {p['t_star_covered']} of {p['datasets']}. "
        f"Wall-clock run time {u['runtime_s'] / 60:.1f} min on {u['threads']} thread(s).\n"
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", type=int, default=600)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--horizon", type=int, default=100_000)
    parser.add_argument("--power-sets", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--out-dir", type=Path, default=ROOT / "benchmarks")
    parser.add_argument(
        "--blocks",
        type=Path,
        default=None,
        help="directory keeping each block's results (resumable; default: none kept)",
    )
    parser.add_argument(
        "--shard",
        default="0/1",
        help="i/n: only compute blocks i, i+n, ... into --blocks, then stop",
    )
    parser.add_argument(
        "--render", type=Path, default=None, help="only rewrite the .md of this JSON result"
    )
    args = parser.parse_args(argv)
    if args.render is not None:
        summary = json.loads(args.render.read_text())
        args.render.with_suffix(".md").write_text(markdown(summary))
        return
    shard, n_shards = (int(v) for v in args.shard.split("/"))
    if args.quick:
        args.sets, args.trials, args.horizon, args.power_sets = 16, 50, 5_000, 2

    start = time.perf_counter()
    cfg = config.load(ROOT / "config" / "config.yaml")
    workload = grids.workload(grids.task_grid(cfg), cfg, 1.0)
    law = increment.increment_law(workload, 0.0)
    cps = driver.log_checkpoints(T_MIN, args.horizon, N_CHECKPOINTS)
    m = args.trials

    stats, p_step, p_bm = [], [], []
    for block, first in enumerate(range(0, args.sets, BLOCK_SETS)):
        sets = range(first, min(first + BLOCK_SETS, args.sets))
        kept = None
        if args.blocks is not None:
            args.blocks.mkdir(parents=True, exist_ok=True)
            kept = args.blocks / f"T{args.horizon}-m{m}-sets{sets[0]}-{sets[-1]}.json"
        if kept is not None and kept.exists():
            part = json.loads(kept.read_text())
        elif block % n_shards != shard:
            continue
        else:
            tick = time.perf_counter()
            trials = range(sets[0] * m, (sets[-1] + 1) * m)
            deficits, _, _ = simulate(workload, 0.0, trials, cps, args.threads)
            part = {"stats": [], "p_step": [], "p_bm": [], "sim_s": time.perf_counter() - tick}
            for i, j in enumerate(sets):
                d = deficits[i * m : (i + 1) * m]
                seed = j % N_NULL_SEEDS
                step = detect_transition(cps, d, null_law=law, n_resamples=0, rng=seed)
                bm = detect_transition(cps, d, n_resamples=0, rng=seed)
                part["stats"].append(step.statistic)
                part["p_step"].append(step.p_value)
                part["p_bm"].append(bm.p_value)
            if kept is not None:
                kept.write_text(json.dumps(part))
        stats += part["stats"]
        p_step += part["p_step"]
        p_bm += part["p_bm"]
        sim_s = part["sim_s"]
        k_step = int(np.sum(np.asarray(p_step) <= 0.05))
        k_bm = int(np.sum(np.asarray(p_bm) <= 0.05))
        print(
            f"sets {sets[-1] + 1}/{args.sets}: simulated in {sim_s:.0f} s; false positives "
            f"step law {k_step}, Brownian {k_bm}; {time.perf_counter() - start:.0f} s",
            flush=True,
        )

    if n_shards > 1:
        return
    if len(p_step) != args.sets:
        raise SystemExit(f"only {len(p_step)} of {args.sets} data sets are done")
    mu, sigma = moments.drift_volatility(workload, POWER_EPS)
    true_t_star = 2 * sigma**2 / (math.pi * mu**2)
    n_power = args.power_sets
    d, drift, var = simulate(workload, POWER_EPS, range(n_power * m), cps, args.threads)
    detected = covered = 0
    for j in range(n_power):
        rows = slice(j * m, (j + 1) * m)
        r = detect_transition(
            cps,
            d[rows],
            mu_samples=drift[rows],
            sigma=math.sqrt(float(np.mean(var[rows]))),
            null_law=law,
            n_resamples=0,
            rng=j % N_NULL_SEEDS,
        )
        detected += r.transition_detected
        covered += r.t_star_interval[0] <= true_t_star <= r.t_star_interval[1]

    p_step, p_bm = np.asarray(p_step), np.asarray(p_bm)
    summary = {
        "setup": {
            "config": "config/config.yaml",
            "provisioning": 1.0,
            "consumption": "lumped",
            "root_seed": ROOT_SEED,
            "scenario_key": KEY,
            "trials": m,
            "horizon": int(args.horizon),
            "t_min": T_MIN,
            "n_checkpoints": int(cps.size),
            "alpha": 0.05,
            "null_seeds": N_NULL_SEEDS,
            "threads": args.threads,
            "quick": bool(args.quick),
            "runtime_s": time.perf_counter() - start,
            "energy_routing": __version__,
            "python": platform.python_version(),
            "numpy": np.__version__,
        },
        "critical": {
            "step_law": rate(int(np.sum(p_step <= 0.05)), p_step.size),
            "brownian": rate(int(np.sum(p_bm <= 0.05)), p_bm.size),
            "median_p_step_law": float(np.median(p_step)),
            "median_p_brownian": float(np.median(p_bm)),
            "statistics": [float(s) for s in stats],
            "p_step_law": p_step.tolist(),
            "p_brownian": p_bm.tolist(),
        },
        "power": {
            "routing_error": POWER_EPS,
            "true_t_star": true_t_star,
            "datasets": n_power,
            "detected": int(detected),
            "t_star_covered": int(covered),
        },
    }
    stem = "transition_calibration_quick" if args.quick else "transition_calibration"
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / f"{stem}.json").write_text(json.dumps(summary, indent=2) + "\n")
    (args.out_dir / f"{stem}.md").write_text(markdown(summary))
    print(markdown(summary))


if __name__ == "__main__":
    main()

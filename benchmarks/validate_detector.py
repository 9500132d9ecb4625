"""False-positive rate and power of the transition test on the real engine (docs/model.md §11.6).

Independent Monte Carlo data sets of the default configuration (``config/config.yaml``,
critical provisioning) are put through :func:`energy_routing.analysis.transition.detect_transition`:

* routing error 0 (critical, mu = 0): every detection is a false positive;
* routing errors 0.05, 0.1 and 0.2 (mu < 0, T* from :func:`energy_routing.engine.driver.
  drift_volatility` = 44,142, 11,087 and 2,797 slots): detections measure the power, and
  the T* interval from the per-trial drifts is checked against the true T*.

Each routing error gets one pool of trials (its own scenario key); the pool is cut into
disjoint data sets of 50, 100 and 200 trials, so the data sets of one row are independent.
Choices, made for a run time of about a quarter of an hour on one core:

* horizon 1e5 slots, 60 log-spaced checkpoints from 10 (the test itself uses at most 20
  of those >= 100 slots, its defaults);
* 16,000 critical trials (80 data sets of 200, 160 of 100, 320 of 50) with both consumption
  modes, and 4,000 trials per routing error with lumped consumption only;
* for a tighter false-positive rate where it matters most (200 trials, horizon 1e5),
  40,000 more critical trials (lumped, their own scenario key): 200 further data sets of
  200, tested without resampling (the decision does not use the resamples);
* for a tighter false-positive rate, 30,000 more critical trials (lumped) with a horizon of
  1e4 slots (45 checkpoints): 1,050 further independent data sets, tested without
  resampling;
* the test's default ``n_null`` (2,000) null data sets, drawn with eight seeds per row
  (data set j uses ``rng = j % 8``, so the rate averages over eight null samples), and
  ``n_resamples = 40`` resamples of the trials per data set (the default is 200) for the
  detection frequency and the breakpoint interval;
* sigma for T* is the square root of the mean per-slot increment variance of the lumped
  walk, ``increment_var`` of the trials (the long-run variance also of the distributed one).

Rates come with exact (Clopper-Pearson) 95 % intervals. For contrast, the rate at which the
BIC decision of :func:`energy_routing.analysis.fits.fit_regime` (independent points) flags the
same data sets is reported too.

Usage: ``python benchmarks/validate_detector.py [--quick] [--out-dir benchmarks]``; writes
``detector.json`` and ``detector.md`` (``--quick``: a small smoke run to a temporary name).
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import platform
import time
from pathlib import Path

import numpy as np
from scipy.stats import beta

from energy_routing import __version__, config
from energy_routing.analysis.transition import detect_transition
from energy_routing.engine import driver, streams
from energy_routing.model import grids
from energy_routing.theory import moments

ROOT = Path(__file__).resolve().parents[1]
ROUTING_ERRORS = (0.0, 0.05, 0.1, 0.2)
TRIAL_COUNTS = (50, 100, 200)
T_MIN, T_MAX, N_CHECKPOINTS = 10, 100_000, 60
ROOT_SEED = 2601
N_RESAMPLES = 40
N_NULL_SEEDS = 8  # data set j uses seed j % 8: eight null samples per row, each memoised
SHORT_T_MAX, SHORT_POOL = 10_000, 30_000
EXTRA_POOL, EXTRA_TRIALS = 40_000, 200  # more critical data sets where the issue judges
N_NULL = inspect.signature(detect_transition).parameters["n_null"].default


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact binomial interval for a rate k / n."""
    a = 1.0 - level
    low = 0.0 if k == 0 else float(beta.ppf(a / 2, k, n - k + 1))
    high = 1.0 if k == n else float(beta.ppf(1 - a / 2, k + 1, n - k))
    return low, high


def simulate_pool(workload, eps: float, n_trials: int, modes: tuple[str, ...], cps, key=""):
    """One pool of independent trials: deficits, realised drifts and increment variances."""
    res = driver.simulate(
        workload,
        routing_error=eps,
        checkpoints=cps,
        trials=n_trials,
        root_seed=ROOT_SEED,
        scenario_key=streams.scenario_key(f"validate-detector-eps{eps}{key}"),
        consumption=modes,
        n_threads=1,
    )
    lumped = res.consumption.index("lumped")
    return {
        mode: {
            "deficit": res.deficit_J[k],
            "drift": res.realised_drift_J_per_slot[k],
            "var": res.increment_var_J2_per_slot[lumped],
        }
        for k, mode in enumerate(res.consumption)
    }


def evaluate(cps, pool, eps: float, m: int, true_t_star: float, n_resamples: int) -> dict:
    """Detector results on the disjoint data sets of m trials cut from one pool."""
    n_sets = pool["deficit"].shape[0] // m
    detected, bic, covered, p_values, freq, taus, t_stars = [], [], [], [], [], [], []
    for j in range(n_sets):
        rows = slice(j * m, (j + 1) * m)
        r = detect_transition(
            cps,
            pool["deficit"][rows],
            mu_samples=pool["drift"][rows],
            sigma=math.sqrt(float(np.mean(pool["var"][rows]))),
            n_resamples=n_resamples,
            rng=j % N_NULL_SEEDS,
        )
        detected.append(r.transition_detected)
        bic.append(r.fit.transition_detected)
        p_values.append(r.p_value)
        freq.append(r.detection_frequency)
        low, high = r.t_star_interval
        covered.append(low <= true_t_star <= high)
        t_stars.append(r.t_star_estimate)
        if r.transition_detected:
            taus.append(r.breakpoint_T)
    k = int(np.sum(detected))
    kb = int(np.sum(bic))
    kc = int(np.sum(covered))
    finite = np.isfinite(true_t_star)
    return {
        "routing_error": eps,
        "t_max": int(cps[-1]),
        "trials_per_dataset": m,
        "datasets": n_sets,
        "detected": k,
        "rate": k / n_sets,
        "rate_ci95": clopper_pearson(k, n_sets),
        "median_p_value": float(np.median(p_values)),
        "mean_detection_frequency": float(np.mean(freq)) if n_resamples else None,
        "bic_detected": kb,
        "bic_rate": kb / n_sets,
        "bic_rate_ci95": clopper_pearson(kb, n_sets),
        "true_t_star": float(true_t_star) if finite else None,
        "t_star_covered": kc,
        "t_star_coverage": kc / n_sets,
        "t_star_coverage_ci95": clopper_pearson(kc, n_sets),
        "median_t_star_estimate": float(np.median(t_stars)) if finite else None,
        "median_breakpoint_T": float(np.median(taus)) if taus else None,
    }


def pooled_rate(rows: list[dict], mode: str, scope: str = "", **match) -> dict:
    """False-positive rate over the critical rows of one consumption mode (and ``match``)."""
    critical = [
        r
        for r in rows
        if r["routing_error"] == 0
        and r["consumption"] == mode
        and all(r[k] == v for k, v in match.items())
    ]
    k = sum(r["detected"] for r in critical)
    n = sum(r["datasets"] for r in critical)
    return {
        "consumption": mode,
        "scope": scope,
        "detected": k,
        "datasets": n,
        "rate": k / n,
        "rate_ci95": clopper_pearson(k, n),
    }


def markdown(summary: dict) -> str:
    """The README table."""

    def pct(x):
        return f"{100 * x:.1f} %"

    def ci(pair):
        return f"[{100 * pair[0]:.1f}, {100 * pair[1]:.1f}] %"

    lines = [
        "| consumption | routing error | true T* [slots] | horizon [slots] | trials / data set "
        "| data sets | resampled | detected (95 % CI) | BIC rule alone | T* interval covers |",
        "|---|---:|---:|---:|---:|---:|---|---|---|---|",
    ]
    for row in summary["rows"]:
        t_star = "∞ (critical)" if row["true_t_star"] is None else f"{row['true_t_star']:,.0f}"
        cover = "–" if row["true_t_star"] is None else pct(row["t_star_coverage"])
        lines.append(
            f"| {row['consumption']} | {row['routing_error']:g} | {t_star} | {row['t_max']:,} | "
            f"{row['trials_per_dataset']} | {row['datasets']} | "
            f"{'yes' if row['resampled'] else 'no'} | "
            f"{pct(row['rate'])} {ci(row['rate_ci95'])} | {pct(row['bic_rate'])} | {cover} |"
        )
    s = summary["setup"]
    for row in summary["false_positives_pooled"]:
        lines.append(
            f"\nAll critical {row['scope']}{row['consumption']} data sets together: "
            f"{row['detected']} "
            f"detections in {row['datasets']}, {pct(row['rate'])} {ci(row['rate_ci95'])}."
        )
    lines += [
        "",
        "Engine: `engine.driver.simulate`, default configuration, horizon "
        f"{s['t_max']:,} slots "
        f"({s['n_checkpoints']} checkpoints from {s['t_min']}) and, for more critical data "
        f"sets, {s['short_t_max']:,} slots (45 checkpoints); test: "
        "`analysis.transition.detect_transition` with its defaults (alpha = 0.05, "
        "checkpoints >= 100, "
        f"at most 20 points, {s['n_null']} null data sets), {s['n_resamples']} resamples of "
        "the trials where resampled (the decision does not use them). "
        'Detections at routing error 0 are false positives; "BIC rule alone" is the '
        "segmented-fit decision of `analysis.fits.fit_regime` on the same data sets. "
        f"Run time {s['runtime_s'] / 60:.1f} min.",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--out-dir", type=Path, default=ROOT / "benchmarks")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    cfg = config.load(ROOT / "config" / "config.yaml")
    workload = grids.workload(grids.task_grid(cfg), cfg, 1.0)
    t_max = 20_000 if args.quick else T_MAX
    short_t_max = 5_000 if args.quick else SHORT_T_MAX
    cps = driver.log_checkpoints(T_MIN, t_max, N_CHECKPOINTS)
    short_cps = driver.log_checkpoints(T_MIN, short_t_max, 45)
    critical_pool = 800 if args.quick else 16_000
    drift_pool = 400 if args.quick else 4_000
    short_pool = 1_600 if args.quick else SHORT_POOL

    extra_pool = 800 if args.quick else EXTRA_POOL

    # (routing error, trials, consumption modes, checkpoints, key suffix, resamples,
    #  trials per data set)
    blocks = [(0.0, critical_pool, ("lumped", "distributed"), cps, "", N_RESAMPLES, TRIAL_COUNTS)]
    blocks += [(0.0, extra_pool, ("lumped",), cps, "-more", 0, (EXTRA_TRIALS,))]
    blocks += [(0.0, short_pool, ("lumped",), short_cps, "-short", 0, TRIAL_COUNTS)]
    blocks += [
        (eps, drift_pool, ("lumped",), cps, "", N_RESAMPLES, TRIAL_COUNTS)
        for eps in ROUTING_ERRORS[1:]
    ]
    rows = []
    for eps, n_trials, modes, checkpoints, key, n_resamples, counts in blocks:
        mu, sigma = moments.drift_volatility(workload, eps)
        true_t_star = 2 * sigma**2 / (math.pi * mu**2) if eps > 0 else math.inf
        tick = time.perf_counter()
        pools = simulate_pool(workload, eps, n_trials, modes, checkpoints, key)
        print(
            f"eps={eps}, T={checkpoints[-1]}: simulated in {time.perf_counter() - tick:.0f} s",
            flush=True,
        )
        for mode, pool in pools.items():
            for m in counts:
                row = evaluate(checkpoints, pool, eps, m, true_t_star, n_resamples)
                row["consumption"] = mode
                row["resampled"] = bool(n_resamples)
                rows.append(row)
                print(
                    f"  {mode:11s} m={m:3d}: {row['detected']}/{row['datasets']} detected, "
                    f"BIC {row['bic_detected']}, T* covered {row['t_star_covered']}",
                    flush=True,
                )

    pooled = [
        pooled_rate(rows, "lumped"),
        pooled_rate(rows, "distributed"),
        pooled_rate(
            rows,
            "lumped",
            f"{EXTRA_TRIALS}-trial, horizon {t_max:,} ",
            trials_per_dataset=EXTRA_TRIALS,
            t_max=t_max,
        ),
    ]

    summary = {
        "setup": {
            "config": "config/config.yaml",
            "provisioning": 1.0,
            "t_min": T_MIN,
            "t_max": int(t_max),
            "n_checkpoints": int(cps.size),
            "root_seed": ROOT_SEED,
            "critical_pool_trials": critical_pool,
            "short_t_max": int(short_t_max),
            "short_critical_pool_trials": short_pool,
            "extra_critical_pool_trials": extra_pool,
            "extra_trials_per_dataset": EXTRA_TRIALS,
            "drift_pool_trials": drift_pool,
            "trial_counts": list(TRIAL_COUNTS),
            "routing_errors": list(ROUTING_ERRORS),
            "alpha": 0.05,
            "n_null": N_NULL,
            "null_seeds_per_row": N_NULL_SEEDS,
            "n_resamples": N_RESAMPLES,
            "sigma_for_t_star": "sqrt(mean increment_var of the lumped walk)",
            "quick": bool(args.quick),
            "runtime_s": time.perf_counter() - start,
            "energy_routing": __version__,
            "python": platform.python_version(),
            "numpy": np.__version__,
        },
        "rows": rows,
        "false_positives_pooled": pooled,
    }
    stem = "detector_quick" if args.quick else "detector"
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / f"{stem}.json").write_text(json.dumps(summary, indent=2) + "\n")
    (args.out_dir / f"{stem}.md").write_text(markdown(summary))
    print(markdown(summary))


if __name__ == "__main__":
    main()

"""The regimes and the transition test under batched serving, at a size the default run
cannot afford (docs/model.md §14.3).

The default run's ``serving_regimes`` entry has 100 critical trials, five data sets for
the transition test: its false-positive rate is a count out of five. This runs
:func:`energy_routing.studies.serving.regimes_study` with the default config's
``serving`` section but ``--trials`` trials at rho = 1 (groups of ``transition_group``
= 20, so ``--trials / 20`` data sets) and ``--off-critical`` trials at rho = 0.9 and 1.1,
and puts it through :func:`energy_routing.analysis.serving.regimes_summary`, also with the
slopes read from ``--late-from`` slots on (``late_window``).

Usage: ``python benchmarks/serving_regimes.py [--trials 1000] [--off-critical 100]
[--out benchmarks/serving_regimes.json]``; about a minute of CPU per 1000 trials.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from energy_routing import config
from energy_routing.analysis.serving import regimes_summary
from energy_routing.model import grids
from energy_routing.studies.serving import regimes_study

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--off-critical", type=int, default=100)
    ap.add_argument("--late-from", type=float, default=2000.0, help="a later slope window [slots]")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "serving_regimes.json")
    args = ap.parse_args()
    cfg = config.load(ROOT / "config" / "config.yaml")
    cfg["serving"]["regimes"].update(trials=args.trials, off_critical_trials=args.off_critical)
    start = time.process_time()
    ds = regimes_study(grids.task_grid(cfg), cfg)
    out = regimes_summary(
        ds,
        group=int(cfg["serving"]["regimes"]["transition_group"]),
        seed=int(cfg["montecarlo"]["seed"]),
    )
    late = regimes_summary(
        ds,
        group=int(cfg["serving"]["regimes"]["transition_group"]),
        seed=int(cfg["montecarlo"]["seed"]),
        slope_from_T=args.late_from,
    )
    out["late_window"] = {k: late[k] for k in (
        "slope_from_T", "slope", "slope_low", "slope_high", "diffusion_slope_at_mu",
        "diffusion_slope_low", "diffusion_slope_high")}  # fmt: skip
    out["cpu_seconds"] = time.process_time() - start
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()

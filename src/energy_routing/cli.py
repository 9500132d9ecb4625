"""Command line: ``energy-routing {validate,plan,archive,verify,replay,size,serving,site,
site-plan}``.

``validate`` checks the config ``snakemake --configfile FILE...`` would run (merged as
Snakemake merges it) and that every task has a feasible model, reporting every problem at
once; ``plan`` prices every stage's jobs before a run is submitted; ``archive`` packs
results with their provenance and source, ``verify`` checks an archive against its manifest
and ``replay`` reruns it in its locked environment and compares every result.
``serving`` prints the energy per token, latency and power of one model replica under
continuous batching; ``site`` and ``site-plan`` evaluate and size PV and storage over a
year at a site. A user's
mistake (a missing or unreadable file, bad YAML, a bad key) is one line on stderr and exit
status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from energy_routing import config
from energy_routing.errors import EnergyRoutingError
from energy_routing.model import grids
from energy_routing.replay import archive
from energy_routing.stages import resources


def _load(args) -> dict:
    """The config ``snakemake --configfile <files>`` runs: the workflow's own file with
    every given one merged over it (:func:`energy_routing.config.load_merged`), checked,
    with a feasible model for every task."""
    cfg = config.load_merged(args.configfile, args.workflow_configfile)
    grids.task_grid(cfg)
    return cfg


def _validate(args) -> int:
    cfg = _load(args)
    n = sum(len(s["routing_errors"]) for s in config.scenarios(cfg).values())
    names = " + ".join([args.workflow_configfile, *args.configfile])
    print(
        f"{names}: valid ({len(cfg['tasks'])} tasks, {len(cfg['models'])} models, "
        f"{len(config.scenarios(cfg))} scenarios, {n} scenario x routing-error runs)"
    )
    return 0


def _plan(args) -> int:
    cfg = _load(args)
    rate = resources.calibrate(cfg) if args.calibrate else None
    table = resources.plan(cfg, rate)
    print(
        "core-hours per stage from the timing model of energy_routing.stages.resources "
        "(checked against recorded runs: benchmarks/plan_accuracy.md); memory and wall "
        "time are what a job reserves"
    )
    if rate is not None:
        print(f"Monte Carlo shards at {rate:.3g} s per slot-trial (both modes), measured here")
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3g}"))
    print(f"total: {int(table.jobs.sum())} jobs, {table.core_hours.sum():.3g} core-hours")
    return 0


def _archive(args) -> int:
    if not Path(args.results).is_dir():
        raise archive.ArchiveError(
            f"results directory {args.results!r} does not exist: run the workflow first or "
            "name it with --results"
        )
    config.read_yaml(args.configfile)  # it exists, is YAML and gives no key twice
    out = args.output or archive.default_name(args.name)
    manifest = archive.create(out, results=args.results, config=args.configfile)
    n_source = len((manifest["source"] or {}).get("files", {}))
    print(
        f"wrote {out} ({len(manifest['files'])} files, {n_source} source files, "
        f"git {manifest['git_revision']})"
    )
    return 0


def _verify(args) -> int:
    manifest = archive.verify(args.archive)
    print(
        f"{args.archive}: OK, {len(manifest['files'])} files match the manifest "
        f"(git {manifest['git_revision']}, created {manifest['created']})"
    )
    return 0


def _replay(args) -> int:
    from energy_routing.replay import run as replay

    if args.against and not Path(args.against).is_dir():
        raise EnergyRoutingError(f"--against {args.against!r}: no such directory")
    if args.json and not Path(args.json).resolve().parent.is_dir():
        raise EnergyRoutingError(f"--json {args.json!r}: its directory does not exist")
    report = replay.replay(
        args.archive,
        workdir=args.workdir,
        keep=args.keep,
        cores=args.cores,
        python=args.python,
        install=not args.no_install,
        source=args.source,
        against=args.against,
        say=lambda msg: print(msg, file=sys.stderr, flush=True),
    )
    print(report.render())
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report.to_json(), f, indent=2)
    return 0 if report.identical else (2 if report.error else 1)


def _size(argv: list[str]) -> int:
    """``energy-routing size``: its own options, handed to
    :func:`energy_routing.studies.sizing.main`."""
    from energy_routing.studies import sizing

    try:
        return sizing.main(argv)
    except (ValueError, OSError, KeyError) as err:
        print(f"energy-routing size: error: {err}", file=sys.stderr)
        return 2


_SWEEP_BATCHES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


def _serving(args) -> int:
    from energy_routing.model import serving

    if args.model is not None:
        given = [
            f for f in ("params", "layers", "kv_heads", "head_dim", "heads") if getattr(args, f)
        ]
        if given:
            raise ValueError(
                f"give either --model or the architecture flags, not both (--model with "
                f"--{given[0].replace('_', '-')})"
            )
        arch = serving.ServingArch.from_catalogue(args.model, args.bytes_per_param)
    else:
        missing = [f for f in ("params", "layers", "kv_heads", "head_dim") if not getattr(args, f)]
        if missing:
            flags = ", ".join("--" + f.replace("_", "-") for f in missing)
            raise ValueError(f"missing {flags}: give --model NAME or all architecture flags")
        arch = serving.ServingArch.from_flags(
            args.params, args.layers, args.kv_heads, args.head_dim, args.heads, args.bytes_per_param
        )
    k = serving.constants(args.accelerator)
    if args.idle_power is not None:
        k = serving.with_idle(k, args.idle_power)
    point = serving.operating_point(arch, args.accelerator, args.gpus, args.batch, args.context, k)
    if args.json:
        batch = int(args.batch) if float(args.batch).is_integer() else args.batch
        print(json.dumps({"batch": batch, "context_tokens": args.context, **point}, indent=2))
        return 0
    import pandas as pd

    rows = [
        {
            "batch": b,
            **serving.operating_point(arch, args.accelerator, args.gpus, b, args.context, k),
        }
        for b in sorted({*_SWEEP_BATCHES, args.batch})
    ]
    table = pd.DataFrame(rows)[
        ["batch", "energy_per_token_J", "inter_token_latency_s", "power_W", "tokens_per_s",
         "fits_in_memory"]
    ]  # fmt: skip
    print(
        f"{args.gpus} x {args.accelerator}, context {args.context:g} tokens; batch-of-one law "
        f"(docs/model.md §1): {point['paper_energy_per_token_J']:.4g} J/token"
    )
    print(table.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    return 0


def _site(command: str, argv: list[str]) -> int:
    """``energy-routing site`` and ``site-plan``: their own options, handed to
    :mod:`energy_routing.studies.site_plan`."""
    from energy_routing.studies import site_plan

    run = site_plan.site_main if command == "site" else site_plan.plan_main
    try:
        return run(argv)
    except (ValueError, OSError, KeyError) as err:
        print(f"energy-routing {command}: error: {err}", file=sys.stderr)
        return 2


def _config_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--configfile",
        nargs="+",
        default=[],
        metavar="FILE",
        help="config files merged, in order, over the workflow's own, as Snakemake's "
        "--configfile does (default: none, the workflow's config alone)",
    )
    p.add_argument(
        "--workflow-configfile",
        default=config.WORKFLOW_CONFIGFILE,
        metavar="FILE",
        help="the Snakefile's configfile, relative to the working directory (default: %(default)s)",
    )


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["size"]:
        return _size(argv[1:])
    if argv[:1] in (["site"], ["site-plan"]):
        return _site(argv[0], argv[1:])
    parser = argparse.ArgumentParser(prog="energy-routing", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser(
        "validate",
        help="check a config without running anything",
        description="Check the config `snakemake --configfile FILE...` would run, merged as "
        "Snakemake merges it, and report every problem at once (exit status 2).",
    )
    _config_options(p)
    p.set_defaults(func=_validate)
    p = sub.add_parser("plan", help="jobs, core-hours and memory per stage for a config")
    _config_options(p)
    p.add_argument(
        "--calibrate",
        action="store_true",
        help="measure the engine's throughput here (a few seconds) instead of "
        "using the reference figure",
    )
    p.set_defaults(func=_plan)
    p = sub.add_parser("archive", help="pack results/ with config and manifest")
    p.add_argument("--configfile", default="config/config.yaml")
    p.add_argument("--results", default="results")
    p.add_argument("--name", default="energy-routing")
    p.add_argument("--output", help="archive path (default archive/<name>-<date>.tar.gz)")
    p.set_defaults(func=_archive)
    p = sub.add_parser("verify", help="check an archive against its manifest")
    p.add_argument("archive")
    p.set_defaults(func=_verify)
    p = sub.add_parser(
        "replay",
        help="rerun an archive in its locked environment and compare every result",
        description="Verify the archive, set up its source and a new virtualenv with its "
        "lock in a fresh directory, rerun its config with Snakemake and compare every "
        "archived result with the new one. Exit status 0: identical, 1: results differ, "
        "2: the replay could not be carried out.",
    )
    p.add_argument("archive")
    p.add_argument("--workdir", help="where to work: new or empty, kept (default: a temp dir)")
    p.add_argument("--keep", action="store_true", help="keep the temporary workdir")
    p.add_argument("--cores", type=int, default=2, help="snakemake --cores (default 2)")
    p.add_argument(
        "--python",
        help="interpreter for the new virtualenv (default: pythonX.Y of the archived run "
        "if on PATH, else this one)",
    )
    p.add_argument(
        "--no-install",
        action="store_true",
        help="rerun in the running environment instead of installing the lock",
    )
    p.add_argument(
        "--source",
        choices=["archive", "checkout"],
        default="archive",
        help="the package and workflow to run: the archived source (default) or the "
        "current checkout",
    )
    p.add_argument(
        "--against",
        metavar="DIR",
        help="compare with the results/ already in DIR instead of rerunning",
    )
    p.add_argument("--json", metavar="FILE", help="also write the report as JSON")
    p.set_defaults(func=_replay)
    sub.add_parser(
        "size",
        help="cheapest (provisioning, capacity) design of a storage grid for an "
        "auxiliary-energy target (energy-routing size --help)",
        add_help=False,
    )
    p = sub.add_parser(
        "serving",
        help="energy per token, latency and power of one replica under batching",
        description="Energy per token, inter-token latency and power of one model replica "
        "decoding a batch of sequences together (docs/model.md §14). Give a catalogue model "
        "(--model) or the architecture flags. Without --json, prints the sweep over batch sizes.",
    )
    p.add_argument("--model", help="catalogue model name instead of the architecture flags")
    p.add_argument("--params", type=float, help="parameters N")
    p.add_argument("--layers", type=int, help="transformer layers")
    p.add_argument("--kv-heads", type=int, help="key-value heads")
    p.add_argument("--head-dim", type=int, help="head dimension")
    p.add_argument("--heads", type=int, help="query heads (default: estimated from N)")
    p.add_argument("--bytes-per-param", type=float, default=2.0, help="default 2 (BF16)")
    p.add_argument("--accelerator", default="H100-SXM5-80GB", help="default H100-SXM5-80GB")
    p.add_argument("--gpus", type=int, default=1, help="accelerators per replica (default 1)")
    p.add_argument("--batch", type=float, default=64, help="running sequences (default 64)")
    p.add_argument("--context", type=float, default=400, help="mean context [tokens] (400)")
    p.add_argument("--idle-power", type=float, help="idle power per accelerator [W]")
    p.add_argument("--json", action="store_true", help="print one point as JSON")
    p.set_defaults(func=_serving)
    sub.add_parser(
        "site",
        help="one PV + battery design at a TMY site over a year, with weather intervals "
        "(energy-routing site --help)",
        add_help=False,
    )
    sub.add_parser(
        "site-plan",
        help="cheapest PV + battery design reaching a renewable fraction with a given "
        "confidence (energy-routing site-plan --help)",
        add_help=False,
    )
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, OSError) as err:
        print(f"energy-routing {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

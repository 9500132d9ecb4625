"""Archive, plan and the command line."""

from __future__ import annotations

import json
import tarfile

import pytest
from snakerun import ROOT

from energy_routing import cli
from energy_routing.config import validate
from energy_routing.replay import archive
from energy_routing.replay.archive import ArchiveError
from energy_routing.stages import resources


@pytest.fixture
def results(tmp_path):
    res = tmp_path / "results"
    (res / "figures").mkdir(parents=True)
    (res / "logs").mkdir()
    (res / "summary.json").write_text(json.dumps({"c_lb_J_per_slot": 593.4}))
    (res / "figures" / "fig.png").write_bytes(b"\x89PNG fake")
    (res / "logs" / "x.log").write_text("not archived")
    cfg = tmp_path / "config.yaml"
    cfg.write_text("tasks: []\n")
    return res, cfg


def test_archive_roundtrip(results, tmp_path):
    res, cfg = results
    out = tmp_path / "a.tar.gz"
    manifest = archive.create(out, results=res, config=cfg)
    assert set(manifest["files"]) == {
        "config/config.yaml",
        "results/summary.json",
        "results/figures/fig.png",
    }
    assert manifest["git_revision"] and manifest["package_versions"]["numpy"]
    assert archive.verify(out)["files"] == manifest["files"]
    assert cli.main(["verify", str(out)]) == 0


def _rewrite(src, dst, change):
    with tarfile.open(src, "r:gz") as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    change(members)
    with tarfile.open(dst, "w:gz") as tar:
        import io

        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda m: m.update({"results/summary.json": b"{}"}), "altered results/summary.json"),
        (lambda m: m.pop("results/figures/fig.png"), "missing results/figures/fig.png"),
        (lambda m: m.update({"results/extra.txt": b"x"}), "unexpected results/extra.txt"),
        (lambda m: m.pop("MANIFEST.json"), "no MANIFEST.json"),
    ],
    ids=["altered", "missing", "unexpected", "no-manifest"],
)
def test_verify_detects_tampering(results, tmp_path, change, words):
    res, cfg = results
    good, bad = tmp_path / "good.tar.gz", tmp_path / "bad.tar.gz"
    archive.create(good, results=res, config=cfg)
    _rewrite(good, bad, change)
    with pytest.raises(ArchiveError, match=words):
        archive.verify(bad)
    assert cli.main(["verify", str(bad)]) == 2


def test_verify_unreadable_archive(tmp_path):
    path = tmp_path / "x.tar.gz"
    path.write_bytes(b"not a tar")
    with pytest.raises(ArchiveError, match="cannot be read"):
        archive.verify(path)


def _shards(trials: int, per: int, routing_errors) -> list[tuple[float, int, int]]:
    """The shard jobs of one scenario, enumerated: (routing error, first trial, stop)."""
    return [(e, a, min(a + per, trials)) for e in routing_errors for a in range(0, trials, per)]


def test_plan_counts_jobs_and_scales(default_cfg):
    """Job counts and core-hours of the default config, from an enumeration of its shards."""
    spt = 1e-6  # seconds per slot-trial: round numbers by hand
    df = resources.plan(default_cfg, seconds_per_slot_trial=spt).set_index("rule")
    # docs/model.md §10 and the defaults: fig4 has 5 routing errors, 200 trials to 1e6
    # slots; the sweep 7 provisioning ratios with 400 trials to 2e5 slots; 50 per shard.
    fig4 = _shards(200, 50, [0.0, 0.01, 0.05, 0.1, 0.2])
    sweep = {f"sweep_rho{rho:g}": _shards(400, 50, [0.0]) for rho in [0.85, 0.9, 0.95, 1.0]}
    sweep |= {f"sweep_rho{rho:g}": _shards(400, 50, [0.0]) for rho in [1.05, 1.1, 1.15]}
    overhead = resources.TIMING["mc_shard"][0]  # interpreter, imports, writing [s per job]
    assert df.loc["mc_shard[fig4]", "jobs"] == len(fig4) == 20
    assert df.loc["mc_shard[fig4]", "core_hours"] == pytest.approx((1000 + 20 * overhead) / 3600)
    assert df.loc["mc_shard[fig4]", "core_hours"] == pytest.approx(
        sum((b - a) * 1_000_000 * spt + overhead for _, a, b in fig4) / 3600
    )
    for name, shards in sweep.items():
        assert df.loc[f"mc_shard[{name}]", "jobs"] == len(shards) == 8
        assert df.loc[f"mc_shard[{name}]", "core_hours"] == pytest.approx(
            (80 + 8 * overhead) / 3600
        )
    assert df[df.index.str.startswith("mc_")].jobs.sum() == (20 + 1) + 7 * (8 + 1)
    assert df.loc["characterize", "jobs"] == 1 and df.loc["figures", "jobs"] == 18
    # Each shard job reserves at least the time its 50 trials are expected to take.
    minutes = df.loc["mc_shard[fig4]", "runtime_min_per_job"]
    assert minutes * 60 >= 50 * 1_000_000 * spt


def test_plan_counts_a_partial_last_shard(default_cfg):
    mc = {**default_cfg["montecarlo"], "trials": 130, "trials_per_shard": 50}
    cfg = validate({**default_cfg, "montecarlo": mc, "sweep": {"activate": False}})
    df = resources.plan(cfg, seconds_per_slot_trial=1e-6).set_index("rule")
    errors = cfg["scenarios"]["fig4"]["routing_errors"]
    shards = _shards(130, 50, errors)
    assert [b - a for _, a, b in shards[:3]] == [50, 50, 30]
    assert df.loc["mc_shard[fig4]", "jobs"] == len(shards) == 3 * len(errors)
    assert list(df.index[:3]) == ["characterize", "mc_shard[fig4]", "mc_merge[fig4]"]
    assert "regimes[sweep]" not in df.index and "regimes[fig4]" in df.index


def test_plan_sizes_the_sweep_merge_with_the_sweep_trials(default_cfg):
    df = resources.plan(default_cfg).set_index("rule")
    fig4 = df.loc["mc_merge[fig4]", "mem_mb_per_job"]
    sweep = df.loc["mc_merge[sweep_rho1]", "mem_mb_per_job"]
    # The sweep merges 400 trials of one routing error, fig4 200 trials of five: the data
    # held by a sweep merge is 400 / (5 x 200) = 0.4 of fig4's, not 0.2.
    assert sweep - resources.BASE_MB == pytest.approx(0.4 * (fig4 - resources.BASE_MB), abs=1)


def test_cluster_sizing_example(default_cfg):
    """README: 1e4 trials x 1e6 slots is a few hundred jobs, not millions."""
    cfg = {
        **default_cfg,
        "montecarlo": {**default_cfg["montecarlo"], "trials": 10_000, "trials_per_shard": 250},
    }
    df = resources.plan(cfg)
    assert df[df.rule == "mc_shard[fig4]"].jobs.iloc[0] == 200
    assert df.jobs.sum() < 500


def test_cli_validate_and_plan(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    default = str(ROOT / "config" / "config.yaml")
    assert cli.main(["validate", "--configfile", default]) == 0
    assert "valid" in capsys.readouterr().out
    assert cli.main(["plan", "--configfile", default]) == 0
    assert "mc_shard[fig4]" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("tasks: []\n")
    assert cli.main(["validate", "--configfile", str(bad)]) == 2
    assert "'tasks' must have at least 1 item" in capsys.readouterr().err
    # A partial file, merged over config/config.yaml as Snakemake merges it.
    partial = tmp_path / "partial.yaml"
    partial.write_text("montecarlo: {trials: 20}\n")
    assert cli.main(["validate", "--configfile", str(partial)]) == 0
    assert "10 tasks" in capsys.readouterr().out
    # Three independent problems: all three, one line each after the count.
    three = tmp_path / "three.yaml"
    three.write_text("arrival_rate: -1\ncolour: red\nsupply: {model: ar1}\n")
    assert cli.main(["validate", "--configfile", str(three)]) == 2
    err = capsys.readouterr().err
    assert "3 problems in the config" in err
    for key in ("'arrival_rate'", "'colour'", "'supply.phi'"):
        assert key in err


def _archive_with_manifest(path, text: str):
    import io

    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo(archive.MANIFEST)
        info.size = len(text)
        tar.addfile(info, io.BytesIO(text.encode()))
    return path


#: A user's mistakes on the command line: (arguments, words of the one-line error). The
#: paths are relative to a temporary directory holding the files made below.
USER_ERRORS = [
    (["validate", "--configfile", "nope.yaml"], "config file 'nope.yaml' does not exist"),
    (["validate", "--configfile", "broken.yaml"], "is not valid YAML"),
    (["validate", "--configfile", "binary.yaml"], "is not UTF-8 text"),
    (["validate", "--configfile", "list.yaml"], "must hold a mapping"),
    (["validate", "--configfile", "adir"], "is not a file"),
    (["validate", "--workflow-configfile", "nope.yaml"], "no --configfile was given"),
    (["plan", "--configfile", "broken.yaml"], "is not valid YAML"),
    (["plan", "--configfile", "twice.yaml"], "'montecarlo' appears twice"),
    (["archive", "--results", "nope"], "results directory 'nope' does not exist"),
    (["archive", "--results", "adir", "--configfile", "broken.yaml"], "is not valid YAML"),
    (["verify", "nope.tar.gz"], "cannot be read as a tar.gz archive"),
    (["verify", "junk.tar.gz"], "cannot be read as a tar.gz archive"),
    (["verify", "empty-manifest.tar.gz"], "is not a manifest of this package"),
    (["verify", "list-manifest.tar.gz"], "is not a manifest of this package"),
    (["replay", "junk.tar.gz", "--no-install"], "cannot be read as a tar.gz archive"),
    (["replay", "junk.tar.gz", "--against", "nope"], "--against 'nope': no such directory"),
    (["replay", "junk.tar.gz", "--json", "no/x.json"], "its directory does not exist"),
    (["size", "--grid", "nope.nc", "--max-aux", "1"], "nope.nc"),
]


@pytest.mark.parametrize(("argv", "words"), USER_ERRORS, ids=[" ".join(a) for a, _ in USER_ERRORS])
def test_a_users_mistake_is_one_line_with_status_2(tmp_path, monkeypatch, capsys, argv, words):
    """No traceback for a user's mistake: one line on stderr naming it, exit status 2."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text((ROOT / "config" / "config.yaml").read_text())
    (tmp_path / "adir").mkdir()
    (tmp_path / "broken.yaml").write_text("tasks: [\n")
    (tmp_path / "binary.yaml").write_bytes(b"\x00\xff\xfe")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    (tmp_path / "twice.yaml").write_text("montecarlo: {seed: 1}\nmontecarlo: {seed: 2}\n")
    (tmp_path / "junk.tar.gz").write_text("not an archive")
    _archive_with_manifest(tmp_path / "empty-manifest.tar.gz", "{}")
    _archive_with_manifest(tmp_path / "list-manifest.tar.gz", "[1]")
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err
    assert err.count("\n") == 1 and err.startswith(f"energy-routing {argv[0]}: error: ")


def test_archive_only_listed_files(results, tmp_path):
    res, cfg = results
    (res / "stale.csv").write_text("left by an earlier config")
    manifest = archive.create(
        tmp_path / "a.tar.gz", results=res, config=cfg, only=[res / "summary.json"]
    )
    assert set(manifest["files"]) == {"config/config.yaml", "results/summary.json"}


def _plan_accuracy():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "plan_accuracy", ROOT / "benchmarks" / "plan_accuracy.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("run", ["default", "tiny", "single"])
def test_plan_counts_every_job_and_prices_each_stage_within_the_stated_factor(run):
    """`plan` once counted only the Monte Carlo stages (0.069 core-hours against 0.12
    recorded for them alone). Against Snakemake's benchmark records of real runs: as many
    jobs per rule as the run made, and each stage's core-seconds within FACTOR (the
    `single` run is held out of the fit)."""
    acc = _plan_accuracy()
    cmp = resources.compare(acc.run_config(run), acc.records(run))
    assert (cmp.jobs == cmp.recorded).all(), cmp[cmp.jobs != cmp.recorded]
    stages = acc.by_stage(run)
    assert set(stages.stage) <= set(resources.TIMING)
    off = stages[(stages.ratio > acc.FACTOR) | (stages.ratio < 1 / acc.FACTOR)]
    assert off.empty, off
    total = stages.predicted_s.sum() / stages.recorded_s.sum()
    bound = acc.TOTAL_FACTOR if run in acc.FITTED else acc.HELD_OUT_TOTAL_FACTOR
    assert 1 / bound < total < bound

"""Archive, plan and the command line."""

from __future__ import annotations

import json
import tarfile

import pytest
from snakerun import ROOT

from energy_routing import archive, cli, plan
from energy_routing.archive import ArchiveError


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


def test_plan_counts_jobs_and_scales(default_cfg):
    df = plan.plan(default_cfg)
    shards = df[df.rule == "mc_shard[fig4]"].iloc[0]
    mc = default_cfg["montecarlo"]
    n_err = len(default_cfg["scenarios"]["fig4"]["routing_errors"])
    assert shards.jobs == n_err * -(-mc["trials"] // mc["trials_per_shard"])
    expected = mc["trials"] * mc["t_max"] * n_err * plan.SLOT_TRIAL_SECONDS / 3600
    assert shards.core_hours == pytest.approx(expected)
    # Memory per shard grows with trials x checkpoints, never with the horizon.
    assert plan.shard_memory_mb(50, 120, 65536) == plan.shard_memory_mb(50, 120, 65536)
    assert plan.shard_memory_mb(10_000, 120, 65536) > plan.shard_memory_mb(50, 120, 65536)


def test_cluster_sizing_example(default_cfg):
    """README: 1e4 trials x 1e6 slots is a few hundred jobs, not millions."""
    cfg = {
        **default_cfg,
        "montecarlo": {**default_cfg["montecarlo"], "trials": 10_000, "trials_per_shard": 250},
    }
    df = plan.plan(cfg)
    assert df[df.rule == "mc_shard[fig4]"].jobs.iloc[0] == 200
    assert df.jobs.sum() < 500


def test_cli_validate_and_plan(capsys, tmp_path):
    default = str(ROOT / "config" / "config.yaml")
    assert cli.main(["validate", "--configfile", default]) == 0
    assert "valid" in capsys.readouterr().out
    assert cli.main(["plan", "--configfile", default]) == 0
    assert "mc_shard[fig4]" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("tasks: []\n")
    assert cli.main(["validate", "--configfile", str(bad)]) == 2
    assert "'tasks' must have at least 1 item" in capsys.readouterr().err


def test_archive_only_listed_files(results, tmp_path):
    res, cfg = results
    (res / "stale.csv").write_text("left by an earlier config")
    manifest = archive.create(
        tmp_path / "a.tar.gz", results=res, config=cfg, only=[res / "summary.json"]
    )
    assert set(manifest["files"]) == {"config/config.yaml", "results/summary.json"}

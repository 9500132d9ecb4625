"""Faults and bad input, on real Snakemake runs of the tiny config.

* SIGKILL in the middle of the Monte Carlo stage, rerun: the merged results are
  bit-identical to an uninterrupted run, and no half-written file is taken for a finished one.
* A shard corrupted after the fact is reported on merge, naming the file.
* A full disk and a read-only ``results/`` fail with a clear message; the next run recovers.
* Bad input of every kind fails before any job runs, naming the key, leaving no outputs.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from snakerun import copy_repo, run_snakemake, snakemake_cmd

from energy_routing.io import netcdf

pytestmark = pytest.mark.slow
MERGED = "results/mc/fig4.nc"


def _sha(path: Path) -> str:
    return netcdf.data_sha256(netcdf.open_checked(path))


def _finished_outputs_are_whole(results: Path) -> None:
    """Every visible NetCDF file opens and passes its checksum."""
    for path in results.rglob("*.nc"):
        if not path.name.startswith("."):
            netcdf.open_checked(path)


@pytest.fixture(scope="module")
def killed_and_resumed(tmp_path_factory) -> Path:
    """A tiny run killed with SIGKILL while shards are being written, then rerun."""
    work = copy_repo(tmp_path_factory.mktemp("killed"))
    shards = work / "results" / "mc" / "shards"
    proc = subprocess.Popen(
        snakemake_cmd(work),
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and proc.poll() is None:
        done = [p for p in shards.rglob("*.nc") if not p.name.startswith(".")]
        if done:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before the Monte Carlo stage could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (work / MERGED).exists()
    _finished_outputs_are_whole(work / "results")
    run_snakemake(work, "--unlock")  # what Snakemake asks for after a kill
    run_snakemake(work)
    return work


def test_killed_run_resumes_bit_identical(killed_and_resumed, tiny_run):
    assert _sha(killed_and_resumed / MERGED) == _sha(tiny_run / MERGED)
    for path in sorted((tiny_run / "results" / "mc" / "shards").rglob("*.nc")):
        twin = killed_and_resumed / path.relative_to(tiny_run)
        assert _sha(twin) == _sha(path)


def test_corrupted_shard_is_named_on_merge(killed_and_resumed):
    work = killed_and_resumed
    shard = sorted((work / "results" / "mc" / "shards").rglob("*.nc"))[0]
    data = shard.read_bytes()
    try:
        shard.write_bytes(data[: len(data) // 2])
        proc = run_snakemake(work, "--forcerun", "mc_merge", "--", MERGED, check=False)
        assert proc.returncode != 0
        log = (work / "results" / "logs" / "mc" / "fig4" / "merge.log").read_text()
        last = log.strip().splitlines()[-1]
        assert last.startswith("error: ") and str(shard.name) in last
        assert "Traceback" not in log
    finally:
        shard.write_bytes(data)
    run_snakemake(work, "--", MERGED)


def _mount(path: Path, options: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True
    )
    return done.returncode == 0


@pytest.mark.parametrize(
    ("options", "words"),
    [("size=100k", "No space left on device"), ("size=64m,ro", "Read-only file system")],
    ids=["disk-full", "read-only"],
)
def test_unwritable_results_fail_clearly_and_recover(tmp_path, tiny_run, options, words):
    work = copy_repo(tmp_path / "repo")
    results = work / "results"
    if not _mount(results, options):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        proc = run_snakemake(work, "--", MERGED, check=False)
        assert proc.returncode != 0
        text = proc.stdout + proc.stderr
        for log in results.rglob("*.log"):
            text += log.read_text()
        assert words in text
        # The message names the file or folder it could not write.
        assert re.search(rf"(cannot write|{words}:) 'results/", text)
        _finished_outputs_are_whole(results)
        subprocess.run(["mount", "-o", "remount,rw,size=64m", str(results)], check=True)
        run_snakemake(work, "--", MERGED)
        assert _sha(work / MERGED) == _sha(tiny_run / MERGED)
    finally:
        subprocess.run(["umount", "-l", str(results)], check=False)


# Bad input: (dotted key, value, text the message must contain). Each goes through
# Snakemake for real (not a dry run) in an empty directory.
BAD = [
    ("montecarlo.seed", 2**80, "'montecarlo.seed' must be <= 4294967295"),
    ("supply", {"model": "ar1"}, "'supply.phi' is required with supply.model 'ar1'"),
    ("arrival_rate", "fast", "'arrival_rate' must be of type number"),
    ("arrival_rate", 0, "'arrival_rate' must be > 0"),
    ("arrival_rate", -2.0, "'arrival_rate' must be > 0"),
    ("arrival_rate", ".nan", "'arrival_rate' must be a finite number"),
    ("dt_s", ".inf", "'dt_s' must be a finite number"),
    ("ds3.tolerance", 1.5, "'ds3.tolerance' must be < 1"),
    ("ds3.tolerance", 0, "'ds3.tolerance' must be > 0"),
    ("ds3.skills", "many", "'ds3.skills' must be of type integer"),
    ("tasks", [], "'tasks' must have at least 1 item"),
    ("tasks[2].deadline_s", 5, "'tasks[2].deadline_s': task 't4'"),
    ("tasks[0].difficulty", 0.01, "'ds3.max_attempts'"),
    ("ds3.max_attempts", 100, "exceed the cap max_attempts=100"),
    ("tasks[1].name", "t0", "'tasks[1].name' repeats the name 't0'"),
    ("models[1].name", "1B", "'models[1].name' repeats the name '1B'"),
    ("models[0].params", -1, "'models[0].params' must be >= 1000000.0"),
    ("hardware.bandwidth", 0, "'hardware.bandwidth' must be > 0"),
    ("hardware.speed", 1, "'hardware.speed' is not a known key"),
    ("colour", "red", "'colour' is not a known key"),
    ("montecarlo.t_max", 5, "'montecarlo.t_max' (5) must exceed the first checkpoint"),
    ("montecarlo.trials", 0, "'montecarlo.trials' must be >= 10"),
    ("montecarlo.chunk_slots", 8, "'montecarlo.chunk_slots' must be >= 64"),
    ("scenarios", {}, "'scenarios' must have at least 1 entry"),
    ("scenarios.fig4.routing_errors", [1.2], "'scenarios.fig4.routing_errors[0]' must be < 1"),
    ("scenarios.fig4.provisioning", -1, "'scenarios.fig4.provisioning' must be > 0"),
    ("sweep.t_max", 2, "'sweep.t_max' (2) must exceed the first checkpoint"),
    ("regimes.bic_penalty", "high", "'regimes.bic_penalty' must be of type number"),
    ("figures.formats", ["bmp"], "'figures.formats[0]' must be one of"),
    ("harvest.variance_scale", -1, "'harvest.variance_scale' must be >= 0"),
    # A constant the accelerator derives, even at its default value (once dropped silently).
    (
        "hardware",
        {"accelerator": "H100-SXM5-80GB", "e_mem": 1.0e-11},
        "'hardware.e_mem' cannot be given with hardware.accelerator",
    ),
    ("carbon.region", "U5A", "'carbon.region' must match the pattern"),
]


@pytest.fixture(scope="module")
def empty_repo(tmp_path_factory) -> Path:
    return copy_repo(tmp_path_factory.mktemp("bad"))


def _set(cfg: dict, dotted: str, value) -> None:
    node = cfg
    parts = dotted.replace("[", ".[").split(".")
    for part in parts[:-1]:
        node = node[int(part[1:-1])] if part.startswith("[") else node.setdefault(part, {})
    last = parts[-1]
    node[int(last[1:-1]) if last.startswith("[") else last] = value


@pytest.mark.parametrize(("key", "value", "words"), BAD, ids=[f"{b[0]}={b[1]}" for b in BAD])
def test_bad_input_fails_before_any_job(empty_repo, tmp_path, key, value, words):
    cfg = yaml.safe_load((empty_repo / ".test" / "config.yaml").read_text())
    _set(cfg, key, value)
    text = yaml.safe_dump(cfg).replace("'.nan'", ".nan").replace("'.inf'", ".inf")
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    proc = run_snakemake(empty_repo, config=path, check=False)
    assert proc.returncode != 0
    assert words in proc.stdout + proc.stderr
    assert not (empty_repo / "results").exists()


def test_missing_config_file_is_named(empty_repo, tmp_path):
    proc = run_snakemake(empty_repo, config=tmp_path / "nope.yaml", check=False)
    assert proc.returncode != 0
    assert "nope.yaml" in proc.stdout + proc.stderr
    assert not (empty_repo / "results").exists()


def test_a_key_given_twice_fails_before_any_job(empty_repo, tmp_path):
    """Snakemake's YAML loader keeps the second of two `montecarlo:` sections silently; the
    workflow reads every config file strictly first."""
    text = (empty_repo / ".test" / "config.yaml").read_text()
    path = tmp_path / "twice.yaml"
    path.write_text(text + "\nmontecarlo:\n  trials: 10000\n")
    proc = run_snakemake(empty_repo, config=path, check=False)
    assert proc.returncode != 0
    assert "'montecarlo' appears twice" in proc.stdout + proc.stderr
    assert not (empty_repo / "results").exists()


# `energy-routing validate` and `snakemake -n` on the same files: (file text, accepted).
AGREE = [
    ("montecarlo: {trials: 20}\n", True),  # partial: merged over config/config.yaml
    ("hardware: {accelerator: H100-SXM5-80GB, e_mem: 1.0e-11}\n", False),
    ("montecarlo: {seed: 1208925819614629174706176}\n", False),
    ("montecarlo: {seed: 1}\nmontecarlo: {trials: 20}\n", False),
    ("supply: {model: ar1}\n", False),
    ("carbon: {region: U5A}\n", False),
    ("hardware: {}\n", True),  # an empty mapping changes nothing in Snakemake's merge
    ("scenarios: {}\n", False),  # config/config.yaml has none: the schema's default is not merged
    ("arrival_rate: -1\ncolour: red\ntasks: [{name: a, difficulty: 1.9}]\n", False),
]


@pytest.mark.parametrize(("text", "accepted"), AGREE, ids=[t.split(":")[0] for t, _ in AGREE])
def test_validate_agrees_with_the_dry_run(empty_repo, tmp_path, capsys, text, accepted):
    """Same files, same verdict; a refusal names the same keys in both."""
    from energy_routing import cli

    path = tmp_path / "x.yaml"
    path.write_text(text)
    base = str(empty_repo / "config" / "config.yaml")
    code = cli.main(["validate", "--configfile", str(path), "--workflow-configfile", base])
    err = capsys.readouterr().err
    proc = run_snakemake(empty_repo, "-n", config=path, check=False)
    assert (code == 0, proc.returncode == 0) == (accepted, accepted), proc.stderr[-2000:]
    keys = re.findall(r"config key '([^']+)'", err)
    assert len(keys) == len(set(keys)) and (keys or accepted)
    for key in keys:
        assert f"'{key}'" in proc.stdout + proc.stderr

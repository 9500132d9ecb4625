"""The locked environment, and archives that replay themselves.

Fast: the lock covers the running environment exactly, and agrees with pyproject.toml and
environment.yml; the comparisons on small files. Slow (the session's tiny run): an archive
made by the workflow's own target is replayed for real in a fresh directory (Snakemake
rerun, running environment) and is identical; copies with one number changed are reported
naming the file, the variable or key, and both values. A replay that installs the lock
into a new virtualenv takes minutes: set ENERGY_ROUTING_FULL_REPLAY=1 to run it.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import sys
import tarfile
import tomllib
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml
from snakerun import ROOT, run_snakemake

from energy_routing import cli
from energy_routing.replay import archive, compare
from energy_routing.replay import environment as replay_environment
from energy_routing.replay import run as replay_run

LOCK = ROOT / archive.LOCK


# --------------------------------------------------------------------------- the lock


def test_lock_covers_the_running_environment_exactly():
    """Every distribution installed here is the locked version, and nothing else is."""
    pins = archive.lock_pins(LOCK.read_text())
    diffs = archive.lock_differences(pins, archive.installed_versions())
    assert not diffs, (
        "the environment is not the lock (rebuild it with `make venv`; after a change to "
        "the dependencies in pyproject.toml, refresh the lock with `make lock`):\n"
        + "\n".join(diffs)
    )


def _requirement_names(specs: list[str]) -> set[str]:
    return {archive.normalize(re.split(r"[<>=!~;\[ ]", s, maxsplit=1)[0]) for s in specs}


def test_lock_agrees_with_pyproject_and_environment_yml():
    text = LOCK.read_text()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = _requirement_names(project["dependencies"])
    for extra in ("test", "slurm"):
        wanted |= _requirement_names(project["optional-dependencies"][extra])
    missing = wanted - set(archive.lock_pins(text, all_platforms=True))
    assert not missing, f"not in {archive.LOCK} (run `make lock`): {sorted(missing)}"
    # Every pin carries hashes, and pip and setuptools (the build backend) are pinned too.
    entries = re.split(r"\n(?=[A-Za-z])", text.split("\n", 3)[-1])
    assert all("--hash=sha256:" in e for e in entries if "==" in e)
    assert {"pip", "setuptools"} <= set(archive.lock_pins(text))
    # The Python version is recorded, and it is the lowest pyproject allows.
    assert archive.lock_python(text) == project["requires-python"].removeprefix(">=")
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert f"python={archive.lock_python(text)}" in env["dependencies"]
    pip_section = next(d for d in env["dependencies"] if isinstance(d, dict))["pip"]
    assert pip_section == [f"-r {archive.LOCK}"]


# --------------------------------------------------------------------------- comparisons


def test_compare_netcdf_names_variable_coordinates_and_values(tmp_path):
    ds = xr.Dataset(
        {"deficit_J": (("eps", "t"), np.arange(6.0).reshape(2, 3))},
        coords={"eps": [0.0, 0.2], "t": [10, 20, 30]},
        attrs={"history": "one"},
    )
    ds.to_netcdf(tmp_path / "a.nc")
    other = ds.copy(deep=True)
    other.attrs["history"] = "another day"
    other.to_netcdf(tmp_path / "same.nc")
    other["deficit_J"][1, 2] = 5.5
    other.to_netcdf(tmp_path / "b.nc")
    assert compare.compare_netcdf(tmp_path / "a.nc", tmp_path / "same.nc") == []
    (line,) = compare.compare_netcdf(tmp_path / "a.nc", tmp_path / "b.nc")
    assert line.startswith("variable deficit_J: 1 of 6 values differ, first at eps=0.2, t=30")
    assert "5.0 -> 5.5" in line


def test_compare_csv_and_report_numbers(tmp_path):
    (tmp_path / "a.csv").write_text("eps,mean\n0.0,1.5\n0.2,2.5\n")
    (tmp_path / "b.csv").write_text("eps,mean\n0.0,1.50\n0.2,2.6\n")
    assert compare.compare_csv(tmp_path / "a.csv", tmp_path / "b.csv") == [
        "row 1, mean: 2.5 -> 2.6"
    ]
    (tmp_path / "a.md").write_text("# Report\n\nC_LB = **616.09 J/slot**, 3 of 3 agree.\n")
    (tmp_path / "b.html").write_text("<h1>Report</h1><p>C_LB = <b>616.1 J/slot</b>, 3 of 3</p>")
    (diff,) = compare.compare_text_numbers(tmp_path / "a.md", tmp_path / "b.html")
    assert "616.09 -> 616.1" in diff


def test_unavailable_pin_is_named():
    out = "ERROR: Could not find a version that satisfies the requirement numpy==9.9 (from x)"
    assert replay_environment.unavailable_pins(out) == [
        ("numpy", "9.9", "no such version on the index")
    ]
    out = (
        "ERROR: THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE. ...\n"
        "    six==1.16.0 from https://files.example/six-1.16.0-py2.py3-none-any.whl#sha256=8a"
        " (from -r x.lock (line 1)):\n        Expected sha256 00\n"
    )
    assert replay_environment.unavailable_pins(out) == [
        ("six", "1.16.0", "its files do not match the locked hashes")
    ]
    relaxed = replay_environment.relaxed_lock(
        "numpy==9.9 \\\n    --hash=sha256:00\nsix==1.16.0\n", {"numpy"}
    )
    assert relaxed == "numpy\nsix==1.16.0\n"


# --------------------------------------------------------------------------- replay


@pytest.fixture(scope="module")
def tiny_archive(tiny_run, tmp_path_factory) -> Path:
    """The tiny run packed by the workflow's `archive` target, moved out of the run."""
    run_snakemake(tiny_run, "--", "archive")
    (made,) = (tiny_run / "archive").glob("energy-routing-*.tar.gz")
    path = tmp_path_factory.mktemp("archive") / made.name
    shutil.move(made, path)
    return path


@pytest.fixture(scope="module")
def replayed(tiny_archive, tmp_path_factory):
    """The archive replayed for real: its source, a Snakemake rerun, every file compared."""
    work = tmp_path_factory.mktemp("replay") / "work"
    return replay_run.replay(tiny_archive, workdir=work, install=False, cores=2), work


@pytest.mark.slow
def test_archive_records_environment_and_source(tiny_archive):
    manifest = archive.verify(tiny_archive)
    assert manifest["python"]["version"] == ".".join(map(str, sys.version_info[:3]))
    assert manifest["installed"]["numpy"] == np.__version__
    lock = manifest["lock"]
    assert lock["file"] == "source/requirements.lock" and lock["python"] == "3.11"
    assert lock["sha256"] == manifest["source"]["files"]["source/requirements.lock"]["sha256"]
    src = manifest["source"]["files"]
    for name in ("Snakefile", "pyproject.toml", "src/energy_routing/engine/driver.py"):
        assert f"source/{name}" in src
    assert any(n.startswith("source/workflow/rules/") for n in src)
    assert not any("__pycache__" in n or "/." in n for n in src)
    assert "results/mc/fig4.nc" in manifest["files"]


@pytest.mark.slow
def test_replay_is_identical(replayed, tiny_archive, capsys):
    report, work = replayed
    text = report.render()
    assert report.identical, text
    assert text.splitlines()[-1].startswith("replay: identical")
    names = {f.name for f in report.files}
    assert {"results/summary.json", "results/mc/fig4.nc", "results/report.md"} <= names
    assert "the archive's" in report.source
    by_name = {f.name: f for f in report.files}
    figure = by_name["results/figures/fig4_growth_fig4.png"]
    assert figure.ok and (figure.how == "bytes" or "results/mc/fig4.nc" in figure.details[0])
    assert json.loads((work / "replay-report.json").read_text())["identical"] is True
    # The same comparison from the command line, against the results just made.
    code = cli.main(["replay", str(tiny_archive), "--against", str(work / "run")])
    assert code == 0
    assert "replay: identical" in capsys.readouterr().out


def _tampered(src: Path, dst: Path, name: str, change) -> Path:
    """A copy of an archive with one member changed and the manifest updated to match."""
    with tarfile.open(src, "r:gz") as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    members[name] = change(members[name], dst.parent)
    manifest = json.loads(members[archive.MANIFEST])
    manifest["files"][name] = {
        "sha256": archive._sha256(members[name]),
        "bytes": len(members[name]),
    }
    members[archive.MANIFEST] = json.dumps(manifest).encode()
    with tarfile.open(dst, "w:gz") as tar:
        for member, data in members.items():
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return dst


def _one_netcdf_value(data: bytes, tmp: Path) -> bytes:
    path = tmp / "fig4.nc"
    path.write_bytes(data)
    with xr.open_dataset(path, decode_times=False) as ds:
        ds = ds.load()
    values = ds["deficit_J"].values.copy()
    values[1, 0, 3, -1] += 1.0
    ds["deficit_J"] = (ds["deficit_J"].dims, values, ds["deficit_J"].attrs)
    ds.to_netcdf(path)
    return path.read_bytes()


def _one_summary_number(data: bytes, tmp: Path) -> bytes:
    summary = json.loads(data)
    summary["regimes_fig4"]["rows"][1]["mean_D_Tmax_J"] += 1.0
    return json.dumps(summary, indent=2).encode()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("member", "change", "expected"),
    [
        (
            "results/mc/fig4.nc",
            _one_netcdf_value,
            r"variable deficit_J: 1 of \d+ values differ, first at routing_error=0.2, "
            r"consumption=\w+, trial=3, time=[\d.e+]+: ",
        ),
        (
            "results/summary.json",
            _one_summary_number,
            r"regimes_fig4\.rows\[1\]\.mean_D_Tmax_J: [\d.e+]+ -> [\d.e+]+",
        ),
        (
            "results/report.md",
            lambda data, tmp: data.replace(b"12 trials to T", b"13 trials to T", 1),
            r"line \d+ \(13 trials to T = .*\): 13 -> 12",
        ),
    ],
    ids=["netcdf-value", "summary-number", "report-number"],
)
def test_replay_names_what_differs(
    replayed, tiny_archive, tmp_path, capsys, member, change, expected
):
    _, work = replayed
    bad = _tampered(tiny_archive, tmp_path / "tampered.tar.gz", member, change)
    code = cli.main(["replay", str(bad), "--against", str(work / "run")])
    out = capsys.readouterr().out
    assert code == 1, out
    assert f"DIFFERS {member}" in out
    assert re.search(expected, out), out
    assert "replay: DIFFERENT: 1 files differ" in out.splitlines()[-1]


@pytest.mark.slow
def test_figures_compare_by_their_data_not_their_bytes(replayed, tiny_archive, tmp_path, capsys):
    """Other bytes in a PNG (a renderer's version, a font) are no difference in the numbers
    it shows: the figure counts as identical when the data it is drawn from are."""
    _, work = replayed
    name = "results/figures/fig4_growth_fig4.png"
    bad = _tampered(tiny_archive, tmp_path / "t.tar.gz", name, lambda data, tmp: data + b"\0")
    report = replay_run.replay(bad, against=work / "run")
    assert report.identical, report.render()
    (figure,) = [f for f in report.files if f.name == name]
    assert figure.status == "identical-data"
    assert "drawn from results/mc/fig4.nc" in figure.details[0]


@pytest.mark.slow
def test_replay_refuses_an_archive_that_fails_its_manifest(tiny_archive, tmp_path, capsys):
    with tarfile.open(tiny_archive, "r:gz") as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    members["results/summary.json"] = b"{}"
    bad = tmp_path / "bad.tar.gz"
    with tarfile.open(bad, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    assert cli.main(["replay", str(bad), "--no-install"]) == 2
    assert "altered results/summary.json" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("ENERGY_ROUTING_FULL_REPLAY") != "1",
    reason="installs the lock into a new virtualenv (minutes); ENERGY_ROUTING_FULL_REPLAY=1",
)
def test_full_replay_installs_the_lock(tiny_archive, tmp_path):
    report = replay_run.replay(tiny_archive, workdir=tmp_path / "work", install=True, cores=2)
    assert report.identical, report.render()
    assert "from the archived lock" in report.environment

"""Result files get the permissions of the user's umask, as any normal tool writes them,
not the private 0600 of a temporary file (results on a shared cluster filesystem)."""

from __future__ import annotations

import os
import stat

import matplotlib.pyplot as plt
import pytest
import xarray as xr

from energy_routing.figures import paper
from energy_routing.io.atomic import atomic_output, current_umask, write_json
from energy_routing.io.netcdf import write_netcdf_atomic


@pytest.fixture(params=[0o022, 0o027, 0o077], ids=oct)
def umask(request):
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_current_umask_reads_without_changing(umask):
    assert current_umask() == umask
    assert current_umask() == umask


def test_every_writer_honours_the_umask(umask, tmp_path):
    expected = 0o666 & ~umask
    with atomic_output(tmp_path / "a.txt") as tmp:
        tmp.write_text("x")
    write_json({"a": 1}, tmp_path / "b.json")
    write_netcdf_atomic(xr.Dataset({"v": ("x", [1.0, 2.0])}), tmp_path / "c.nc")
    fig, _ = plt.subplots()
    paper.save(fig, tmp_path / "d", {"formats": ["png", "pdf"], "dpi": 30})
    written = ["a.txt", "b.json", "c.nc", "d.png", "d.pdf"]
    assert {name: oct(mode(tmp_path / name)) for name in written} == {
        name: oct(expected) for name in written
    }

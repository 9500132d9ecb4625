"""Replaying an archive: its environment, its source, its config, and every result compared.

:func:`replay` verifies an archive (:mod:`energy_routing.archive`), then in a fresh working
directory

1. takes the source the results were made with: the archive's ``source/`` (default), or
   the current checkout (``source="checkout"``, and for archives made without one);
2. sets up the environment: a new virtualenv with exactly the archived lock
   (``pip install --require-hashes -r requirements.lock``, then the archived package with
   ``pip install --no-deps -e``), or the running environment (``install=False``). A pinned
   version that cannot be installed is replaced by the newest one pip finds, and named;
3. reruns the archived config with Snakemake, asking for exactly the archived results;
4. compares every archived result with the new one: NetCDF variables value for value, bit
   for bit (attributes such as history, versions or the git revision are not compared);
   JSON and CSV files value for value; the Markdown and HTML reports by the numbers their
   text shows; figures by the data files Snakemake recorded as their inputs (PNG and PDF
   bytes change with fonts and renderer versions even when every number is the same).

The :class:`Report` says whether the replay is identical, what differs file by file, and
what in the environment (Python, package versions, packages that could not be installed)
differs from the archived run's and so may explain it.

:func:`fingerprint` and :func:`compare_fingerprints` serve the golden regression test: a
flat table of numbers and checksums of a results directory, compared entry by entry.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import hashlib
import html
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from energy_routing import archive
from energy_routing.errors import EnergyRoutingError

#: How many differing values a file lists before it summarises the rest.
MAX_LISTED = 5
FIGURE_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg")
#: What the replay leaves out when it copies a checkout (``source="checkout"``).
CHECKOUT_IGNORE = shutil.ignore_patterns(
    ".venv",
    ".git",
    "results",
    ".snakemake",
    "__pycache__",
    ".hypothesis",
    ".pytest_cache",
    ".ruff_cache",
    "archive",
    "build",
    "*.egg-info",
    "docs",
)


class ReplayError(EnergyRoutingError):
    """A replay could not be carried out (no environment, the rerun failed, bad workdir)."""


# --------------------------------------------------------------------------- comparisons


@dataclass
class FileResult:
    """One archived result compared with its replay."""

    name: str
    status: str  # "identical", "identical-data" (a figure), "differs", "missing"
    how: str
    details: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status in ("identical", "identical-data")


def _fmt(value) -> str:
    if isinstance(value, float | np.floating):
        return repr(float(value))
    if isinstance(value, np.generic):
        return repr(value.item())
    return json.dumps(value) if isinstance(value, str) else repr(value)


def flatten(obj, prefix: str = "") -> Iterator[tuple[str, object]]:
    """The leaves of a JSON document as ``(path, value)``: ``a.rows[2].x``.

    >>> dict(flatten({"a": {"rows": [{"x": 1.5}]}, "b": True}))
    {'a.rows[0].x': 1.5, 'b': True}
    """
    if isinstance(obj, dict):
        if not obj and prefix:
            yield prefix, {}
        for key, value in obj.items():
            yield from flatten(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(obj, list):
        if not obj and prefix:
            yield prefix, []
        for i, value in enumerate(obj):
            yield from flatten(value, f"{prefix}[{i}]")
    else:
        yield prefix, obj


def _same(a, b, rel: float = 0.0) -> bool:
    if isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, int | float):
        return type(a) is type(b) and a == b
    if not isinstance(b, int | float):
        return False
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if rel == 0.0:
        return a == b and type(a) is type(b)
    return math.isclose(a, b, rel_tol=rel, abs_tol=0.0)


def compare_mappings(expected: dict, actual: dict, rel: float = 0.0) -> list[str]:
    """Entry-by-entry differences of two flat mappings: ``key: old -> new``.

    Floats compare exactly (``rel=0``) or within a relative tolerance; other values and
    the types of numbers (int vs float) exactly.

    >>> compare_mappings({"a": 1.0, "b": 2, "c": "x"}, {"a": 1.5, "b": 2, "d": 0})
    ['a: 1.0 -> 1.5', 'c: "x" -> (absent)', 'd: (absent) -> 0']
    """
    out = []
    for key in sorted(set(expected) | set(actual), key=_natural):
        if key not in actual:
            out.append(f"{key}: {_fmt(expected[key])} -> (absent)")
        elif key not in expected:
            out.append(f"{key}: (absent) -> {_fmt(actual[key])}")
        elif not _same(expected[key], actual[key], rel):
            out.append(f"{key}: {_fmt(expected[key])} -> {_fmt(actual[key])}")
    return out


def _natural(key: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", key)]


def _listing(diffs: list[str], what: str) -> list[str]:
    if len(diffs) <= MAX_LISTED:
        return diffs
    return [*diffs[:MAX_LISTED], f"... and {len(diffs) - MAX_LISTED} more {what}"]


def compare_json(expected: Path, actual: Path) -> list[str]:
    """Every value of two JSON files, exactly."""
    a = dict(flatten(json.loads(expected.read_text())))
    b = dict(flatten(json.loads(actual.read_text())))
    return _listing(compare_mappings(a, b), "values")


def _read_csv(path: Path) -> list[list[str]]:
    dialect = "excel-tab" if path.suffix == ".tsv" else "excel"
    with path.open(newline="") as f:
        return list(csv.reader(f, dialect))


def _number(text: str):
    try:
        return float(text)
    except ValueError:
        return None


def compare_csv(expected: Path, actual: Path) -> list[str]:
    """Header and every cell of two CSV tables; numbers compare by value, exactly."""
    a, b = _read_csv(expected), _read_csv(actual)
    if not a or not b:
        return [] if a == b else ["one of the tables is empty"]
    if a[0] != b[0]:
        return [f"columns: {a[0]} -> {b[0]}"]
    diffs = []
    if len(a) != len(b):
        diffs.append(f"rows: {len(a) - 1} -> {len(b) - 1}")
    header = a[0]
    for i, (ra, rb) in enumerate(zip(a[1:], b[1:], strict=False)):
        for j, (x, y) in enumerate(zip(ra, rb, strict=False)):
            nx, ny = _number(x), _number(y)
            same = (
                x == y
                if nx is None or ny is None
                else nx == ny or (math.isnan(nx) and math.isnan(ny))
            )
            if not same:
                col = header[j] if j < len(header) else f"column {j}"
                diffs.append(f"row {i}, {col}: {x} -> {y}")
        if len(ra) != len(rb):
            diffs.append(f"row {i}: {len(ra)} cells -> {len(rb)} cells")
    return _listing(diffs, "cells")


_NUMBER = re.compile(r"(?<![\w.])[-+−]?(?:\d+(?:[.,]\d+)*\.?\d*|\.\d+)(?:[eE][-+]?\d+)?%?")


def _text_of(path: Path) -> str:
    text = path.read_text(errors="replace")
    if path.suffix in (".html", ".htm"):
        text = re.sub(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=\s]*", "", text)
        text = re.sub(r"<(script|style)\b.*?</\1>", "", text, flags=re.S | re.I)
        text = html.unescape(re.sub(r"<[^>]+>", " ", text))
    return text


def numbers_in(text: str) -> list[tuple[int, str, str]]:
    """Each number a text shows: ``(line number, number, the line)``.

    >>> [n for _, n, _ in numbers_in("C_LB = 616.09 J/slot, variance 4.3462e+05; 3 of 3")]
    ['616.09', '4.3462e+05', '3', '3']
    """
    out = []
    for no, line in enumerate(text.splitlines(), 1):
        out += [(no, m[0], line.strip()) for m in _NUMBER.finditer(line)]
    return out


def compare_text_numbers(expected: Path, actual: Path) -> list[str]:
    """The numbers two reports show, in order (text and markup may differ)."""
    a, b = numbers_in(_text_of(expected)), numbers_in(_text_of(actual))
    diffs = []
    for (line, x, ctx), (_, y, _) in zip(a, b, strict=False):
        if x != y:
            diffs.append(f"line {line} ({ctx[:70]}): {x} -> {y}")
    if len(a) != len(b):
        diffs.append(f"{len(a)} numbers -> {len(b)} numbers")
    return _listing(diffs, "numbers")


def _labels(var: xr.Variable, ds: xr.Dataset, index: tuple[int, ...]) -> str:
    parts = []
    for dim, i in zip(var.dims, index, strict=True):
        label = i
        if dim in ds.coords and ds.coords[dim].ndim == 1:
            label = ds.coords[dim].values[i]
            label = label.item() if isinstance(label, np.generic) else label
        parts.append(f"{dim}={label}")
    return ", ".join(parts)


def _open_nc(path: Path) -> xr.Dataset:
    with xr.open_dataset(path, decode_times=False, decode_timedelta=False) as ds:
        return ds.load()


def compare_netcdf(expected: Path, actual: Path) -> list[str]:
    """Every variable (data and coordinates) of two NetCDF files, bit for bit.

    Names, dimensions, shapes, dtypes and values; attributes are not compared.
    """
    a, b = _open_nc(expected), _open_nc(actual)
    diffs = []
    for name in sorted(set(a.variables) | set(b.variables), key=str):
        if name not in b.variables:
            diffs.append(f"variable {name}: missing in the replay")
            continue
        if name not in a.variables:
            diffs.append(f"variable {name}: only in the replay")
            continue
        va, vb = a.variables[name], b.variables[name]
        if va.dims != vb.dims or va.shape != vb.shape:
            diffs.append(f"variable {name}: dims {dict(va.sizes)} -> {dict(vb.sizes)}")
            continue
        xa, xb = np.asarray(va.values), np.asarray(vb.values)
        if xa.dtype.kind in "OUS" or xb.dtype.kind in "OUS":
            la, lb = xa.astype(str).ravel(), xb.astype(str).ravel()
            if list(la) != list(lb):
                i = next(k for k in range(la.size) if la[k] != lb[k])
                idx = np.unravel_index(i, xa.shape) if xa.ndim else ()
                diffs.append(f"variable {name} at {_labels(va, a, idx)}: {la[i]} -> {lb[i]}")
            continue
        if xa.dtype != xb.dtype:
            diffs.append(f"variable {name}: dtype {xa.dtype} -> {xb.dtype}")
            continue
        if xa.tobytes() == xb.tobytes():
            continue
        differ = ~((xa == xb) | (_isnan(xa) & _isnan(xb)))
        differ |= np.signbit(xa) != np.signbit(xb) if xa.dtype.kind == "f" else False
        n = int(differ.sum())
        first = tuple(int(k) for k in np.argwhere(differ)[0]) if xa.ndim else ()
        old, new = xa[first] if xa.ndim else xa, xb[first] if xb.ndim else xb
        line = (
            f"variable {name}: {n} of {xa.size} values differ, first at "
            f"{_labels(va, a, first) or 'the scalar'}: {_fmt(old)} -> {_fmt(new)}"
        )
        if xa.dtype.kind in "fiu" and n:
            with np.errstate(invalid="ignore"):
                delta = np.abs(xb.astype(float) - xa.astype(float))[differ]
            line += f" (max |difference| {np.nanmax(delta) if delta.size else 0:.6g})"
        diffs.append(line)
    return _listing(diffs, "variables")


def _isnan(x: np.ndarray) -> np.ndarray:
    return np.isnan(x) if x.dtype.kind == "f" else np.zeros(x.shape, bool)


def _metadata_inputs(workdir: Path, name: str) -> list[str] | None:
    """The inputs Snakemake recorded for an output of a run in ``workdir``, if any."""
    key = base64.urlsafe_b64encode(name.encode()).decode()
    path = workdir / ".snakemake" / "metadata" / key
    try:
        inputs = json.loads(path.read_text()).get("input") or []
    except (OSError, ValueError):
        return None
    out = []
    for item in inputs:
        p = Path(item)
        with contextlib.suppress(ValueError):
            p = p.relative_to(workdir) if p.is_absolute() else p
        out.append(p.as_posix())
    return out


def compare_file(
    name: str,
    expected: Path,
    actual: Path,
    *,
    compared: dict[str, FileResult],
    run_dir: Path | None = None,
) -> FileResult:
    """Compare one archived result with the replay's (see the module docstring)."""
    if not actual.is_file():
        return FileResult(name, "missing", "", ["not produced by the replay"])
    suffix = expected.suffix.lower()
    if expected.read_bytes() == actual.read_bytes():
        return FileResult(name, "identical", "bytes")
    if suffix == ".nc":
        how, diffs = "values of every variable", compare_netcdf(expected, actual)
    elif suffix == ".json":
        how, diffs = "every value", compare_json(expected, actual)
    elif suffix in (".csv", ".tsv"):
        how, diffs = "every cell", compare_csv(expected, actual)
    elif suffix in (".md", ".html", ".htm", ".txt"):
        how, diffs = "the numbers in its text", compare_text_numbers(expected, actual)
    elif suffix in FIGURE_SUFFIXES:
        return _compare_figure(name, compared, run_dir)
    else:
        how, diffs = "bytes", ["the bytes differ"]
    return FileResult(name, "differs" if diffs else "identical", how, diffs)


def _compare_figure(name: str, compared: dict[str, FileResult], run_dir) -> FileResult:
    inputs = _metadata_inputs(run_dir, name) if run_dir is not None else None
    data = [i for i in inputs or [] if i.startswith("results/")]
    if inputs is None:
        return FileResult(
            name,
            "identical-data",
            "its data (inputs unknown: no Snakemake record)",
            ["bytes differ; the data files it is drawn from are compared on their own"],
        )
    bad = [i for i in data if i in compared and not compared[i].ok]
    if bad:
        return FileResult(
            name, "differs", "its data", [f"drawn from {i}, which differs" for i in bad]
        )
    checked = [i for i in data if i in compared]
    unchecked = [i for i in data if i not in compared]
    note = f"drawn from {', '.join(checked) or 'the code alone'}"
    if unchecked:
        note += f" (not archived, so not compared: {', '.join(unchecked)})"
    return FileResult(name, "identical-data", "its data", [note])


# --------------------------------------------------------------------------- environment


_NOT_FOUND = re.compile(
    r"(?:No matching distribution found for|Could not find a version that satisfies the "
    r"requirement)\s+([A-Za-z0-9._-]+)==([^\s;(]+)"
)
_HASH_MISMATCH = re.compile(r"^\s+([A-Za-z0-9._-]+)==([^\s]+) from ", re.M)


def unavailable_pins(pip_output: str) -> list[tuple[str, str, str]]:
    """The pins pip could not install, from its output: ``(name, version, why)``.

    >>> unavailable_pins("ERROR: No matching distribution found for numpy==9.9.9")
    [('numpy', '9.9.9', 'no such version on the index')]
    """
    found = {
        (archive.normalize(m[1]), m[2], "no such version on the index")
        for m in _NOT_FOUND.finditer(pip_output)
    }
    if "DO NOT MATCH THE HASHES" in pip_output:
        found |= {
            (archive.normalize(m[1]), m[2], "its files do not match the locked hashes")
            for m in _HASH_MISMATCH.finditer(pip_output)
        }
    return sorted(found)


def relaxed_lock(text: str, drop: set[str]) -> str:
    """The lock without hashes, the pins of ``drop`` replaced by the bare name.

    >>> relaxed_lock("a==1 \\\\\\n    --hash=sha256:00\\nb==2 ; sys_platform == 'x'\\n", {"a"})
    "a\\nb==2 ; sys_platform == 'x'\\n"
    """
    out = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", "--hash")):
            continue
        spec = stripped.rstrip("\\").strip()
        name = re.split(r"[=<>!~;\[ ]", spec, maxsplit=1)[0]
        out.append(name if archive.normalize(name) in drop else spec)
    return "\n".join(out) + "\n"


def env_versions(python: str | Path) -> dict[str, str]:
    """Every distribution of the environment of the interpreter ``python``."""
    code = (
        "import json, re; from importlib import metadata; print(json.dumps({"
        "re.sub(r'[-_.]+', '-', d.metadata['Name']).lower(): d.version "
        "for d in metadata.distributions() if d.metadata['Name']}))"
    )
    proc = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
    return dict(sorted(json.loads(proc.stdout).items())) if proc.returncode == 0 else {}


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return {**env, "PYTHONDONTWRITEBYTECODE": "1", **extra}


def default_python(manifest: dict) -> str:
    """``pythonX.Y`` of the archived run if on PATH, else this interpreter."""
    version = (manifest.get("python") or {}).get("version", "")
    short = ".".join(version.split(".")[:2])
    found = shutil.which(f"python{short}") if short else None
    return found or sys.executable


# --------------------------------------------------------------------------- the replay


@dataclass
class Report:
    """What a replay did and found."""

    archive: str
    manifest: dict
    workdir: Path | None = None
    source: str = ""
    environment: str = ""
    env_notes: list[str] = field(default_factory=list)
    rerun: str = ""
    error: str | None = None
    against: bool = False
    files: list[FileResult] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return self.error is None and all(f.ok for f in self.files)

    @property
    def differing(self) -> list[FileResult]:
        return [f for f in self.files if not f.ok]

    def render(self) -> str:
        m = self.manifest
        lines = [
            f"replay of {self.archive} (created {m.get('created', '?')}, "
            f"git {m.get('git_revision', '?')})"
        ]
        if self.workdir is not None:
            lines.append(f"  workdir: {self.workdir}")
        if self.source:
            lines.append(f"  source: {self.source}")
        if self.environment:
            lines.append(f"  environment: {self.environment}")
        if self.env_notes:
            lines.append("  environment differs from the archived run's:")
            lines += [f"    {n}" for n in self.env_notes]
        if self.rerun:
            lines.append(f"  rerun: {self.rerun}")
        if self.files:
            n_bytes = sum(f.status == "identical" and f.how == "bytes" for f in self.files)
            n_ok = sum(f.ok for f in self.files)
            lines.append(
                f"  results: {len(self.files)} files: {n_ok} identical "
                f"({n_bytes} byte for byte, {n_ok - n_bytes} by their values or data), "
                f"{len(self.differing)} differ"
            )
            for f in self.files:
                if not f.ok:
                    lines.append(
                        f"  DIFFERS {f.name} (compared: {f.how or 'presence'}; archived -> replay):"
                    )
                    lines += [f"    {d}" for d in f.details]
        if self.error:
            lines.append(f"replay: FAILED: {self.error}")
        elif self.identical:
            lines.append(f"replay: identical ({len(self.files)} result files)")
        else:
            if self.against:
                why = "compared with results made elsewhere, whose environment was not checked"
            elif self.env_notes:
                why = "the environment differs from the archived run's (see above): a likely cause"
            else:
                why = (
                    "same source and package versions: a change of machine (CPU features "
                    "used by numba or BLAS) or a nondeterminism"
                )
            lines.append(f"replay: DIFFERENT: {len(self.differing)} files differ; {why}")
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {
            "archive": self.archive,
            "identical": self.identical,
            "error": self.error,
            "source": self.source,
            "environment": self.environment,
            "environment_differences": self.env_notes,
            "rerun": self.rerun,
            "files": [f.__dict__ for f in self.files],
        }


def _run(cmd: list[str], log: Path, *, cwd: Path | None = None, env=None):
    with log.open("a") as f:
        f.write(f"\n$ {' '.join(map(str, cmd))}\n")
        f.flush()
        proc = subprocess.run(
            [str(c) for c in cmd], cwd=cwd, env=env or _clean_env(), capture_output=True, text=True
        )
        f.write(proc.stdout + proc.stderr)
    return proc


def _tail(text: str, n: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-n:])


def _install(
    python: str, venv: Path, source: Path, log: Path, say: Callable[[str], None]
) -> tuple[Path, list[str]]:
    """A new virtualenv with the lock of ``source``, then the package; its python."""
    notes = []
    lock = source / archive.LOCK
    if not lock.is_file():
        raise ReplayError(f"no {archive.LOCK} in the source: nothing to install from")
    proc = _run([python, "-m", "venv", venv], log)
    if proc.returncode != 0:
        raise ReplayError(f"{python} -m venv failed:\n{_tail(proc.stdout + proc.stderr)}")
    py = venv / "bin" / "python"
    say(f"installing the locked environment into {venv} (a few minutes) ...")
    cmd = [py, "-m", "pip", "install", "--quiet", "--require-hashes", "-r", lock]
    proc = _run(cmd, log)
    dropped: dict[str, tuple[str, str]] = {}
    while proc.returncode != 0:
        bad = [b for b in unavailable_pins(proc.stdout + proc.stderr) if b[0] not in dropped]
        tampered = [f"{n}=={v}" for n, v, why in bad if "hashes" in why]
        if tampered:  # never replaced: the index may serve other files than were locked
            raise ReplayError(
                f"refusing to install {', '.join(tampered)}: the files on the index do not "
                f"match the locked hashes (see {log})"
            )
        if not bad or len(dropped) > 20:
            raise ReplayError(
                f"the locked environment could not be installed (see {log}):\n"
                f"{_tail(proc.stdout + proc.stderr)}"
            )
        for name, version, why in bad:
            dropped[name] = (version, why)
            say(f"{name}=={version} cannot be installed ({why}); trying the newest {name}")
        relaxed = venv.parent / "relaxed.lock"
        relaxed.write_text(relaxed_lock(lock.read_text(), set(dropped)))
        proc = _run([py, "-m", "pip", "install", "--quiet", "-r", relaxed], log)
    proc = _run(
        [py, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "-e", source],
        log,
    )
    if proc.returncode != 0:
        raise ReplayError(f"installing the package failed:\n{_tail(proc.stdout + proc.stderr)}")
    for name, (version, why) in sorted(dropped.items()):
        notes.append(f"{name}=={version} could not be installed ({why}); another version was")
    return py, notes


def _env_notes(manifest: dict, python: Path | str) -> list[str]:
    notes = []
    want = (manifest.get("python") or {}).get("version")
    proc = subprocess.run(
        [str(python), "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
    )
    have = proc.stdout.strip()
    if want and have and want != have:
        notes.append(f"Python {want} (archived run) -> {have} (replay)")
    archived = manifest.get("installed")
    if archived:
        here = env_versions(python)
        for name in sorted(set(archived) | set(here)):
            if name in archive.NOT_LOCKED or archived.get(name) == here.get(name):
                continue
            notes.append(
                f"{name}: {archived.get(name, 'not installed')} (archived run) -> "
                f"{here.get(name, 'not installed')} (replay)"
            )
    return notes


def _prepare_workdir(workdir: str | Path | None) -> tuple[Path, bool]:
    if workdir is None:
        return Path(tempfile.mkdtemp(prefix="energy-routing-replay-")), True
    path = Path(workdir)
    if path.exists() and any(path.iterdir()):
        raise ReplayError(f"{path}: the workdir must be new or empty")
    path.mkdir(parents=True, exist_ok=True)
    return path, False


def _write(members: dict[str, bytes], prefix: str, dest: Path) -> None:
    for name, data in members.items():
        if name.startswith(prefix):
            target = dest / name[len(prefix) :]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)


def replay(
    path: str | Path,
    *,
    workdir: str | Path | None = None,
    keep: bool = False,
    cores: int = 2,
    python: str | None = None,
    install: bool = True,
    source: str = "archive",
    against: str | Path | None = None,
    say: Callable[[str], None] = lambda msg: None,
) -> Report:
    """Replay the archive ``path`` and compare its results (see the module docstring).

    Parameters
    ----------
    workdir
        Where to work (must be new or empty; kept). Default: a new temporary directory,
        removed afterwards unless ``keep``.
    cores
        Snakemake's ``--cores`` for the rerun.
    python
        The interpreter of the new virtualenv; default ``pythonX.Y`` of the archived run if
        on PATH, else the running one.
    install
        False: no new environment, rerun with the running interpreter and its packages.
    source
        ``"archive"`` (the archived source; the checkout when the archive has none) or
        ``"checkout"`` (the repository this package is imported from).
    against
        Compare with the results already in this directory (a workflow directory holding
        ``results/``) instead of rerunning; nothing is installed or run.
    say
        Called with progress messages.
    """
    manifest, members = archive.load(path)
    report = Report(str(path), manifest)
    work, temporary = _prepare_workdir(workdir)
    report.workdir = work if (keep or not temporary) else None
    start = time.monotonic()
    try:
        expected = work / "archived"
        _write(members, "results/", expected / "results")
        _write(members, "config/", expected / "config")
        results = sorted(n for n in manifest["files"] if n.startswith("results/"))
        if against is not None:
            run_dir, report.against = Path(against), True
            report.source = f"none: comparing with the results in {run_dir}"
        else:
            run_dir = work / "run"
            report.source = _take_source(members, manifest, source, run_dir)
            report.environment, py = _environment(manifest, work, run_dir, python, install, say)
            report.env_notes += _env_notes(manifest, py)
            say(f"rerunning the archived config with snakemake ({cores} cores) ...")
            report.rerun = _rerun(py, run_dir, expected, manifest, results, cores, work)
        say("comparing ...")
        compared: dict[str, FileResult] = {}
        figures = [n for n in results if Path(n).suffix.lower() in FIGURE_SUFFIXES]
        for name in [n for n in results if n not in figures] + figures:
            compared[name] = compare_file(
                name, expected / name, run_dir / name, compared=compared, run_dir=run_dir
            )
        report.files = [compared[n] for n in results]
    except ReplayError as err:
        report.error = str(err)
    finally:
        if report.workdir is not None:
            (work / "replay-report.txt").write_text(report.render() + "\n")
            (work / "replay-report.json").write_text(json.dumps(report.to_json(), indent=2))
        elif temporary:
            shutil.rmtree(work, ignore_errors=True)
    report.rerun += f"; replay took {time.monotonic() - start:.0f} s" if report.rerun else ""
    return report


def _take_source(members: dict, manifest: dict, source: str, run_dir: Path) -> str:
    prefix = f"{archive.SOURCE}/"
    has_source = bool(manifest.get("source"))
    if source == "archive" and has_source:
        _write(members, prefix, run_dir)
        n = len(manifest["source"]["files"])
        return f"the archive's ({n} files, git {manifest.get('git_revision', '?')})"
    root = archive.source_root()
    if root is None:
        raise ReplayError("the archive holds no source and this package is not run from a checkout")
    shutil.copytree(root, run_dir, ignore=CHECKOUT_IGNORE)
    from energy_routing.provenance import git_revision

    why = "" if source == "checkout" else " (the archive holds none)"
    return f"the current checkout {root}{why}, git {git_revision(root)}"


def _environment(manifest, work, run_dir, python, install, say) -> tuple[str, Path]:
    if not install:
        return f"the running one ({sys.executable}), not installed from the lock", Path(
            sys.executable
        )
    python = python or default_python(manifest)
    py, notes = _install(python, work / "venv", run_dir, work / "install.log", say)
    lock = run_dir / archive.LOCK
    n = len(archive.lock_pins(lock.read_text()))
    desc = f"new virtualenv {work / 'venv'} from the archived lock ({n} packages), {python}"
    if notes:
        desc += "; " + "; ".join(notes)
    return desc, py


def _rerun(py, run_dir, expected, manifest, results, cores, work) -> str:
    configs = [n for n in manifest["files"] if n.startswith("config/")]
    # Targets first: --configfile takes any number of values.
    cmd = [py, "-m", "snakemake", *results, "--snakefile", run_dir / "Snakefile"]
    cmd += ["--directory", run_dir]
    profile = run_dir / "workflow" / "profiles" / "default"
    if profile.is_dir():
        cmd += ["--workflow-profile", profile]
    cmd += ["--cores", str(cores)]
    if configs:
        cmd += ["--configfile", expected / configs[0]]
    env = _clean_env(PYTHONPATH=str(run_dir / "src"))
    t0 = time.monotonic()
    proc = _run(cmd, work / "snakemake.log", cwd=run_dir, env=env)
    if proc.returncode != 0:
        raise ReplayError(
            f"the rerun failed (log: {work / 'snakemake.log'}):\n{_tail(proc.stderr, 25)}"
        )
    return f"snakemake, {cores} cores, {time.monotonic() - t0:.0f} s"


# --------------------------------------------------------------------------- golden


def _var_sha(values: np.ndarray, dims) -> str:
    digest = hashlib.sha256(f"{','.join(map(str, dims))}|{values.shape}".encode())
    if values.dtype.kind in "OUS":
        digest.update("\x00".join(map(str, values.ravel())).encode())
    else:
        digest.update(values.dtype.newbyteorder("<").str.encode())
        digest.update(np.ascontiguousarray(values, values.dtype.newbyteorder("<")).tobytes())
    return digest.hexdigest()[:16]


def fingerprint(results: str | Path, files: list[str] | None = None) -> dict[str, object]:
    """A flat table of what a results directory says, for the golden regression test.

    ``summary.json``: every value, by its path (``summary.json:regimes_fig4.rows[2].mu``).
    NetCDF: per variable a checksum of its values (``.sha256``) and, for numbers, their
    sum (``.sum``). CSV: a checksum of the text and the sum of every numeric column.
    ``files`` defaults to those three kinds under ``results`` (Monte Carlo shards, logs and
    benchmarks left out: the merged datasets hold the same numbers).
    """
    results = Path(results)
    if files is None:
        skip = {"shards", "logs", "benchmarks"}
        data = [p.relative_to(results) for p in results.rglob("*") if p.suffix in (".nc", ".csv")]
        files = [*sorted(p.as_posix() for p in data if not skip & set(p.parts)), "summary.json"]
    out: dict[str, object] = {}
    for rel in files:
        path = results / rel
        if path.suffix == ".json":
            out.update({f"{rel}:{k}": v for k, v in flatten(json.loads(path.read_text()))})
        elif path.suffix == ".nc":
            ds = _open_nc(path)
            for name in sorted(ds.variables, key=str):
                var = ds.variables[name]
                values = np.asarray(var.values)
                out[f"{rel}:{name}.sha256"] = _var_sha(values, var.dims)
                if values.dtype.kind in "fiub" and name not in ds.coords:
                    out[f"{rel}:{name}.sum"] = float(np.nansum(values, dtype=float))
        elif path.suffix == ".csv":
            out[f"{rel}:sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
            rows = _read_csv(path)
            for j, col in enumerate(rows[0] if rows else []):
                cells = [_number(r[j]) if j < len(r) else None for r in rows[1:]]
                if cells and all(c is not None for c in cells):
                    out[f"{rel}:{col}.sum"] = float(np.nansum(np.array(cells, dtype=float)))
    return {k: out[k] for k in sorted(out, key=_natural)}


def compare_fingerprints(expected: dict, actual: dict, rel: float = 1e-12) -> list[str]:
    """What moved between two fingerprints, one line each: ``key: old -> new``."""
    return compare_mappings(expected, actual, rel)


def dump_fingerprint(fp: dict, path: str | Path) -> None:
    """Write a fingerprint as sorted JSON, one entry a line (small diffs in review)."""
    body = ",\n".join(f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in fp.items())
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("{\n" + body + "\n}\n")


__all__ = [
    "FileResult",
    "ReplayError",
    "Report",
    "compare_csv",
    "compare_fingerprints",
    "compare_json",
    "compare_mappings",
    "compare_netcdf",
    "compare_text_numbers",
    "dump_fingerprint",
    "fingerprint",
    "flatten",
    "numbers_in",
    "relaxed_lock",
    "replay",
    "unavailable_pins",
]

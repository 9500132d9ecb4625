"""One archived result against its replay, compared by what the file says, not its bytes.

Identical bytes settle it; otherwise :func:`compare_file` picks the rule by file type:
NetCDF variables and coordinates bit for bit, attributes such as history, versions or the
git revision ignored (:func:`compare_netcdf`); JSON and CSV value for value
(:func:`compare_json`, :func:`compare_csv`); the Markdown and HTML reports by the numbers
their text shows, in order (:func:`compare_text_numbers`); figures by the data files
Snakemake recorded as their inputs, since PNG and PDF bytes change with fonts and renderer
versions when no number does. Each comparison is a :class:`FileResult` that lists at most
:data:`MAX_LISTED` differences and counts the rest.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import html
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from energy_routing.io.netcdf import load_netcdf

#: How many differing values a file lists before it summarises the rest.
MAX_LISTED = 5
FIGURE_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg")


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
    """A results file as the pipeline reads it (named dimensions restored)."""
    return load_netcdf(path)


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

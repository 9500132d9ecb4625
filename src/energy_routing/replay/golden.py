"""Fingerprints of a results directory, for the golden regression test.

:func:`fingerprint` reduces the results to one flat table: every value of ``summary.json``
by its path, per NetCDF variable a checksum of its values (and their sum), per CSV file a
checksum and the sum of each numeric column (shards, logs and benchmarks left out).
:func:`compare_fingerprints` lists what moved between two of them, ``key: old -> new`` one
line each, and :func:`dump_fingerprint` writes one as sorted JSON, one entry a line, so a
change makes a small diff in review.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from energy_routing.replay.compare import (
    _natural,
    _number,
    _open_nc,
    _read_csv,
    compare_mappings,
    flatten,
)

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

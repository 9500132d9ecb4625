"""Stage 6 (on demand): the run's results and config packed with a manifest."""

from __future__ import annotations

from energy_routing.replay import archive as arc


def archive(out, *, config, results: list[str]) -> None:
    """Pack the run's result files and its config, with a manifest, into ``out``."""
    arc.create(
        out,
        results="results",
        config=config,
        only=[f for f in results if f.startswith("results/")],
    )

"""The pipeline's stages: a validated config and paths in, files out.

Each script under ``workflow/scripts`` is one call into these modules, so every stage also
runs (and is tested) without Snakemake; a rule reruns only when code its stage imports
changes (:func:`energy_routing.stages.registry.code_modules`).

``characterize``  model and task tables, the task grid, the difficulty grid (§1-5)
``mc_shard``      one shard of a scenario's Monte Carlo trials (docs/model.md §6-8)
``mc_merge``      a scenario's shards checked and merged, with D_t statistics
``regimes``       regime table and theory curves of one scenario (docs/model.md §9, §11)
``sweep``         Theorem 2's regimes from the provisioning sweep, Fig. 2's points (§7, §9)
``figures``       every figure, from the inputs the registry names (docs/model.md §10)
``summary``       ``summary.json`` merged from the stages' JSON parts
``report``        the Markdown report and its self-contained HTML twin
``archive``       the run's results and config packed with a manifest (on demand)
``policies``      dispatch policies against myopic (docs/model.md §12.6)
``routers``       dispatchers with overhead (docs/model.md §12.8)
``storage``       the planner's grid of provisioning x capacity (docs/model.md §12.7)
``carbon``        auxiliary energy as emissions of a grid region (docs/model.md §13)
``calibration``   energy per token against EcoLogits, and sensitivity (docs/model.md §13)
``day_night``     what the day-night cycle of a PV array costs (docs/model.md §13)
``site_storage``  the storage a real PV site needs (docs/model.md §12.7, §13)
``site_year``     a year at each site: PV x battery designs and the planner (§15)
``registry``      the table of stages and figures the workflow is built from
``common``        helpers the stages share: logging, loading, threads, writing studies
``resources``     jobs, core-hours and memory of a run, before it is submitted

Layers: ``model``, ``supply`` and ``theory`` import nothing above them; ``engine`` knows no
config or files; ``studies`` turn config into engine runs; only ``stages`` (with ``io`` and
``replay``) work with the pipeline's paths.
"""

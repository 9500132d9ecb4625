"""Figures drawn with seaborn: each ``fig_*`` function takes data and returns a Figure.

``paper``      Fig. 2-4, the regime sweep and the distribution of D_T (docs/model.md §10); ``save``
``policies``   the policy, storage-planner and dispatcher studies (docs/model.md §12)
``realworld``  solar supply, day-night cost, calibration, sensitivity, carbon (docs/model.md §13)
``serving``    energy per task and missed deadlines against replicas (docs/model.md §14.2)

Layers: ``model``, ``supply`` and ``theory`` import nothing above them; ``engine`` knows no
config or files; ``studies`` turn config into engine runs; only ``stages`` (with ``io`` and
``replay``) work with the pipeline's paths.

Figures take datasets, frames and dicts, never input paths; ``save`` writes to the stem
the calling stage gives it.
"""

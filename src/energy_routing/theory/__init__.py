"""Closed forms and exact results for the deficit D_T [J] (docs/model.md §7-8, §11).

``moments``    route probabilities, task-energy moments, Lemma 2's mu and sigma (§7-8, §13)
``diffusion``  Brownian approximation: law, mean, quantiles of D_T, T*, regimes (§7, §11.5)
``increment``  law of one slot's increment X = R - C of the lumped walk (docs/model.md §11.1)
``exact``      E[D_T] of the slotted walk with an error bound, ladder offset (§11.2-11.5)

Layers: ``model``, ``supply`` and ``theory`` import nothing above them; ``engine`` knows no
config or files; ``studies`` turn config into engine runs; only ``stages`` (with ``io`` and
``replay``) work with the pipeline's paths.
"""

"""From merged Monte Carlo datasets to fits, tests and tables (docs/model.md §7, §9, §11).

``fits``             BIC regime fit and tail log-log slope of one mean deficit curve (§9)
``transition``       the calibrated test for a square-root-to-linear transition (§11.6)
``control_variate``  mean deficit curves, plain or with control variates (§11.7)
``tables``           regime and sweep tables, theory curves and Fig. 2's points

Layers: ``model``, ``supply`` and ``theory`` import nothing above them; ``engine`` knows no
config or files; ``studies`` turn config into engine runs; only ``stages`` (with ``io`` and
``replay``) work with the pipeline's paths.

The analysis takes datasets and frames; the stages load the files and write the tables.
"""

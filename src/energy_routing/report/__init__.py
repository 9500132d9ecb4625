"""The summary report: Markdown and a self-contained HTML twin, from the pipeline's outputs.

``build``      the report: the paper's sections, figure readings, Markdown and HTML
``tables``     column headings in words and units, and Markdown tables
``policies``   the "Dispatch policies" and "Storage" sections (docs/model.md §12)
``realworld``  the "Real-world inputs" section (docs/model.md §13)

Layers: ``model``, ``supply`` and ``theory`` import nothing above them; ``engine`` knows no
config or files; ``studies`` turn config into engine runs; only ``stages`` (with ``io`` and
``replay``) work with the pipeline's paths.

Every number shown is read from ``summary.json``, the tables and the figures that
:mod:`energy_routing.stages.report` hands in, so the report cannot drift from the results.
"""

"""The model of docs/model.md §1-6: from hardware and skills to the engine's workload.

``hardware``    per-token energy [J] and time [s] of a hosted model (docs/model.md §1)
``capability``  frontier loss and skill success probability (docs/model.md §2)
``ds3``         skill search with chain of thought: minimum attempts (docs/model.md §3)
``catalogue``   real accelerators and open-weight architectures (docs/model.md §1, §13)
``grids``       per-task budgets, energy, latency, feasibility, profiles (docs/model.md §1-5)
``reasoning``   random reasoning length: a task's energy law and moments (docs/model.md §12.5)
``workload``    the engine's input ``Workload``, Gamma harvest, task slack (docs/model.md §4-6)

Layers: ``model``, ``supply`` and ``theory`` import nothing above them; ``engine`` knows no
config or files; ``studies`` turn config into engine runs; only ``stages`` (with ``io`` and
``replay``) work with the pipeline's paths.
"""

"""The Monte Carlo engine: sample paths of the slotted battery and its deficit
(docs/model.md §6-8, §12).

``streams``    per-trial random generators and scenario keys (common random numbers)
``draws``      stages 1-2 of a chunk: all its randomness, then myopic routing with error
``fast_path``  stages 3-4 in numba: lumped or distributed consumption, then the battery walk
``per_slot``   the per-slot numba kernel: queue, dispatch, consumption and store slot by slot
``driver``     ``simulate``: trials in chunks and threads, checkpoints, ``SimulationResult``
``policies``   dispatch policies (myopic, variance-aware, deferral, drift-plus-penalty), routers
``storage``    the energy store: unbounded and lossless, or finite with losses
``energy``     random task energies of the stochastic reasoning length (docs/model.md §12.5)
``batched``    serving under continuous batching: replicas, queues, the battery on C_t (§14.2)
``batched_kernel`` its numba kernel: each replica through each slot, event by event

Layers: ``model``, ``supply`` and ``theory`` import nothing above them; ``engine`` knows no
config or files; ``studies`` turn config into engine runs; only ``stages`` (with ``io`` and
``replay``) work with the pipeline's paths. The engine takes a
:class:`~energy_routing.model.workload.Workload`, a policy, a store and seeds and returns
arrays; its only third-party imports are numpy and numba.
"""

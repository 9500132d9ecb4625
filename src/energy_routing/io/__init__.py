"""Files of the pipeline: atomic writes, NetCDF datasets and provenance.

``atomic``      a file is written completely or not at all, with the user's usual permissions
``netcdf``      Monte Carlo results as CF-1.11 NetCDF: shards, checksums, merge (§6-9)
``provenance``  package versions, git revision and the CF global attributes of every file

Layers: ``model``, ``supply`` and ``theory`` import nothing above them; ``engine`` knows no
config or files; ``studies`` turn config into engine runs; only ``stages`` (with ``io`` and
``replay``) work with the pipeline's paths.
"""

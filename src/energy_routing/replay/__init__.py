"""Archives and their replay: results packed with their provenance, rerun and compared.

``archive``      results, config, source and lock packed with a checksummed manifest; verify
``environment``  the replay's environment: a virtualenv from the archived lock
``run``          ``replay``: verify, take the source, set up, rerun with Snakemake, compare
``compare``      one archived result against its replay, by file type
``golden``       fingerprints of a results directory for the golden regression test

Layers: ``model``, ``supply`` and ``theory`` import nothing above them; ``engine`` knows no
config or files; ``studies`` turn config into engine runs; only ``stages`` (with ``io`` and
``replay``) work with the pipeline's paths.
"""

"""The package's own errors: a problem with the user's input or files, stated in one line.

Every stage turns an :class:`EnergyRoutingError` (a bad config key, a corrupted shard, an
archive that fails its manifest) or an :class:`OSError` (disk full, unwritable directory)
into a one-line message in its log instead of a traceback; see
:func:`energy_routing.stages.common.logged`.
"""


class EnergyRoutingError(ValueError):
    """An input or file the pipeline cannot use; the message names it and says why."""


class ConfigError(EnergyRoutingError):
    """A configuration key has a value that is not allowed."""

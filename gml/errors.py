"""Exceptions for user mistakes that gml reports as one clear message."""


class GMLError(Exception):
    """A mistake in a config, a command line or the data on disk.

    The command-line tools print the message (no traceback) and exit with
    status 2.
    """


class ConfigError(GMLError):
    """A config file is missing, malformed, or holds an invalid value."""


class DataNotFoundError(GMLError):
    """A dataset's files are not where the config says they are."""

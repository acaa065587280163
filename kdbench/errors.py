"""User-facing errors.

A `KdbenchError` is a mistake in the user's input (a bad config value, a missing
data path, an incompatible model pair). The CLI prints its message on one line
and exits non-zero, without a traceback, because the traceback would only point
into our code while the fix is in the user's command line.
"""


class KdbenchError(Exception):
    """A problem the user can fix; the message names the problem and the fix."""


class ConfigError(KdbenchError, ValueError):
    """A config value is out of range or unknown."""

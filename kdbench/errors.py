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


class DataError(KdbenchError):
    """A data file cannot be used (not the format it claims, truncated, empty).

    The message names the file and what to do about it.
    """


class Diverged(RuntimeError):
    """Training produced a non-finite loss: the run is stopped and recorded as `diverged`.

    Not a `KdbenchError`: the config is valid, the training it asked for blew up.
    `who` names the network (empty for the student), `lr_key` the setting to lower.
    """

    def __init__(
        self, epoch: int, step: int, who: str = "", lr_key: str = "train.optim.lr"
    ) -> None:
        self.epoch, self.step, self.who, self.lr_key = epoch, step, who, lr_key
        prefix = f"{who}: " if who else ""
        super().__init__(
            f"{prefix}loss became NaN/Inf at epoch {epoch}, step {step} (try a lower {lr_key})"
        )

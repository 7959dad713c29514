"""User-facing errors and the exit codes of every ``dynvfi`` command.

Every failure a user can cause (bad path, unreadable image, missing weights, ...) is raised as a
:class:`DynVFIError` subclass. The CLI prints ``error: <message>`` on one line and exits with the
class's code, so users never see a traceback for a problem they can fix themselves, and scripts
can tell the cases apart:

====  ===============================================================================
code  meaning
====  ===============================================================================
0     done (skipped items, if any, are counted in the summary)
1     a bug: an unexpected exception (traceback printed)
2     bad input, configuration, output location, device or database (nothing was done)
3     a model's weight file is missing
4     the run did nothing useful (every source failed, every item was set aside)
5     ``--strict`` and the inputs were incomplete (a dropped triplet, a truncated video)
130   interrupted (Ctrl-C); whatever was committed or checkpointed before is kept
====  ===============================================================================

Environment errors raised by libraries (a full disk, a refused database connection) are turned
into the same one-line form by :func:`as_user_error`, the single place the CLI consults.
"""

from __future__ import annotations


class DynVFIError(Exception):
    """Base class of all errors whose message is meant for the user."""

    exit_code: int = 2


class InputError(DynVFIError):
    """Bad user input: missing/unreadable file, mismatched frame sizes, unknown layout."""


class MissingWeightsError(DynVFIError):
    """A model's weight file is not where it must be; the message says which file goes where."""

    exit_code = 3


class ConfigError(DynVFIError):
    """Invalid configuration value or model specification."""


class OutputError(DynVFIError):
    """An output location that cannot be written (checked before any work starts where possible)."""


class NothingDoneError(DynVFIError):
    """The command ran but produced nothing useful; the message says what was skipped and why."""

    exit_code = 4


class IncompleteInputError(DynVFIError):
    """``--strict`` refused partial inputs (incomplete triplets, a truncated video)."""

    exit_code = 5


def as_user_error(exc: BaseException) -> DynVFIError | None:
    """The one-line user error an environment failure stands for, or None for a genuine bug.

    OS errors (disk full, permission denied after the checks, a vanished file) and database
    driver/connection errors are the user's environment, not DynVFI's logic. SQLAlchemy is
    recognised by module name so that this module stays import-free for ``dynvfi -h``.
    """
    if isinstance(exc, DynVFIError):
        return exc
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        return DynVFIError(f"{exc.strerror or exc}{where}")
    if type(exc).__module__.startswith("sqlalchemy"):
        # the first line only: SQLAlchemy appends the statement and a help link
        text = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        return DynVFIError(f"database error: {text}")
    return None

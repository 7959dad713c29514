"""User-facing errors.

Every failure a user can cause (bad path, unreadable image, missing weights, ...) is raised as a
:class:`DynVFIError` subclass. The CLI prints ``error: <message>`` on one line and exits non-zero,
so users never see a traceback for a problem they can fix themselves.
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

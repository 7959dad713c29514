"""Settings sections validated by pydantic: strict types, no unknown keys, one-line errors.

Every configuration section a user writes in YAML or on the command line (the DPA network,
training, a collection's filters and download limits) is a pydantic dataclass made with
:func:`settings`. It stays a dataclass (``dataclasses.asdict``/``replace``/``fields`` work, and
``replace`` validates again), but a value of the wrong type or an unknown key is refused with
the setting's name instead of failing later inside the work: ``--set epochs=abc`` says
"epochs must be a valid integer, got 'abc'", not a ``'<' not supported`` traceback an hour in.

Types are strict (no silent ``"7"`` -> 7 or ``true`` -> 1 for an integer); YAML lists are turned
into tuples first, since a dataclass setting that is a sequence is a tuple (hashable, frozen).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any, TypeVar

import pydantic.dataclasses
from pydantic import ConfigDict, ValidationError

from dynvfi_core.errors import ConfigError

T = TypeVar("T")

STRICT = ConfigDict(extra="forbid", strict=True)


def settings(section: str = "", *, frozen: bool = False) -> Callable[[type[T]], type[T]]:
    """Class decorator: a strictly validated dataclass that refuses unknown keys.

    Constructing it (directly, by :func:`build` or by ``dataclasses.replace``) raises a one-line
    :class:`ConfigError` whose setting names start with ``section`` (e.g. ``model.view``).
    """
    def wrap(cls: type[T]) -> type[T]:
        dc = pydantic.dataclasses.dataclass(config=STRICT, frozen=frozen)(cls)
        validating_init = dc.__init__

        @functools.wraps(validating_init)
        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            try:
                validating_init(self, *args, **kwargs)
            except ValidationError as exc:
                raise ConfigError(describe(exc, section)) from None

        dc.__init__ = __init__  # type: ignore[method-assign]
        return dc  # type: ignore[return-value]

    return wrap


def _tuples(value: Any) -> Any:
    """YAML/JSON lists (nested too) as tuples, the type of every sequence setting."""
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    return value


def describe(exc: ValidationError, where: str = "") -> str:
    """The first problem of ``exc`` as one line naming the setting (``model.view must be ...``)."""
    errors = exc.errors()
    first = errors[0]
    name = where
    for part in first["loc"]:
        name += f"[{part}]" if isinstance(part, int) else f".{part}" if name else str(part)
    name = name or "settings"
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    if first["type"] == "unexpected_keyword_argument":
        return f"unknown setting {name}{more}"
    if first["type"] == "missing":
        return f"{name} is missing{more}"
    msg = first["msg"].replace("a valid tuple", "a list")
    msg = " must be " + msg[len("Input should be "):] if msg.startswith("Input should be ") else ": " + msg
    return f"{name}{msg}, got {first.get('input')!r}{more}"


def build(cls: type[T], values: Any, where: str = "", /, **given: Any) -> T:
    """``cls`` from a YAML mapping (``None`` = all defaults); :class:`ConfigError` on any problem.

    ``where`` names the section in the error for a value that is not a mapping at all; ``given``
    are fields the caller built already (nested sections), passed through as they are.
    """
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ConfigError(f"{where or 'settings'}: expected a mapping of settings, got {values!r}")
    return cls(**{str(k): _tuples(v) for k, v in values.items()}, **given)


def replace(obj: T, /, **changes: Any) -> T:
    """``dataclasses.replace``, with YAML lists accepted for sequence settings."""
    return dataclasses.replace(obj, **{k: _tuples(v) for k, v in changes.items()})  # type: ignore[type-var]

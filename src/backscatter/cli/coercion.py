"""Command-line values converted without pydantic, for the plain types our commands take.

Typer (0.2x, with its own copy of click) converts every value through a pydantic
``TypeAdapter`` built on first use (``typer/_coercion.py``: ``build_runtime_param``;
``typer/_adapters.py``: ``build_leaf_adapter``). Even a command with no options pays for it,
because the ``--help`` flag itself is converted when it is absent: importing pydantic and
building the adapters costs about 0.1 s of CPU on every ``backscatter parse one.eml`` and on
every message a procmail recipe or an MTA pipe hands to ``backscatter filter`` (issue 10).

:func:`install` replaces ``_TyperParameter.get_runtime_param`` with one that converts the
values it knows to be plain (``str``, ``bool``, an ``Enum``, ``int`` and ``float`` written as
digits, a ``Path``, and lists of these) the way typer's adapters do, reusing typer's own
helpers for choices and paths. Anything else, and every value it would reject, goes to typer's
own conversion, so error messages and unusual types stay exactly typer's (the parity is tested
in tests/test_cli_help.py over every parameter of the app). With a typer that has no such
hook (older, click-based releases, which convert without pydantic) it does nothing.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Any, get_args, get_origin

#: Returned by :func:`plain_value` when a value is not one it converts: typer decides.
UNHANDLED: Any = object()
#: ``int`` and ``float`` strings converted here at most this long (longer ones: typer).
_MAX_NUMBER_CHARS = 18
_DIGITS = frozenset("0123456789")


def install() -> bool:
    """Route plain values around pydantic; True when typer has the hook this needs."""
    try:
        from typer import _click, _coercion
        from typer import core as typer_core

        parameter_class = typer_core._TyperParameter
        parameter_class.get_runtime_param  # noqa: B018 (the hook replaced below)
        runtime_base = _coercion.RuntimeParam
        build_runtime_param = _coercion.build_runtime_param
        bad_parameter = _click.exceptions.BadParameter
        from typer._param_types import coerce_cli_path, normalize_choice_value  # noqa: F401
    except (ImportError, AttributeError):
        return False
    if getattr(parameter_class.get_runtime_param, "_backscatter_plain", False):
        return True

    class PlainRuntimeParam(runtime_base):  # type: ignore[misc, valid-type]
        """Converts plain values itself and hands everything else to typer's own param."""

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            try:
                result = plain_value(self.annotation, self.parameter_info, value, param, ctx)
            except bad_parameter:
                result = UNHANDLED  # typer words the error (its message, its value)
            if result is not UNHANDLED:
                return result
            typer_param = param.__dict__.get("_backscatter_typer_param")
            if typer_param is None:
                typer_param = build_runtime_param(param.type_descriptor)
                param.__dict__["_backscatter_typer_param"] = typer_param
            return typer_param._coerce_value(value, param=param, ctx=ctx)

    def get_runtime_param(self: Any) -> Any:
        if self._runtime_param is None:
            descriptor = self.type_descriptor
            if descriptor.file_annotation is None and handles(
                descriptor.annotation, descriptor.parameter_info
            ):
                self._runtime_param = PlainRuntimeParam(
                    parameter_info=descriptor.parameter_info, annotation=descriptor.annotation
                )
            else:
                self._runtime_param = build_runtime_param(descriptor)
        return self._runtime_param

    get_runtime_param._backscatter_plain = True  # type: ignore[attr-defined]
    parameter_class.get_runtime_param = get_runtime_param
    return True


def handles(annotation: Any, info: Any) -> bool:
    """True for the annotations :func:`plain_value` may convert (others: typer alone)."""
    if getattr(info, "parser", None) is not None or getattr(info, "path_type", None) is not None:
        return False
    if get_origin(annotation) is list:
        (item,) = get_args(annotation) or (None,)
        return item is not None and get_origin(item) is None and handles(item, info)
    if get_origin(annotation) is not None or not isinstance(annotation, type):
        return False
    return annotation in (str, bool, int, float) or issubclass(annotation, Enum | Path)


def plain_value(annotation: Any, info: Any, value: Any, param: Any, ctx: Any) -> Any:
    """``value`` converted as typer would, or UNHANDLED when typer must decide."""
    if get_origin(annotation) is list:
        if not isinstance(value, list | tuple):
            return UNHANDLED
        (item_type,) = get_args(annotation)
        items = [plain_value(item_type, info, item, param, ctx) for item in value]
        return UNHANDLED if any(item is UNHANDLED for item in items) else items
    if annotation is bool:
        return value if isinstance(value, bool) else UNHANDLED
    if issubclass(annotation, Path):
        return _path(annotation, info, value, param, ctx)
    if annotation is int or annotation is float:
        if type(value) is annotation:  # a default, or a counted flag
            return _in_range(info, value)
        return _number(annotation, info, value) if isinstance(value, str) else UNHANDLED
    if not isinstance(value, str):  # a default, or an Enum member
        member = issubclass(annotation, Enum) and isinstance(value, annotation)
        return value if member or type(value) is annotation else UNHANDLED
    if annotation is str:
        return value
    if issubclass(annotation, Enum):
        return _choice(annotation, info, value, ctx)
    return UNHANDLED


def _path(annotation: type[Path], info: Any, value: Any, param: Any, ctx: Any) -> Any:
    """typer's own path checks, given a Path (typer makes the Path with pydantic)."""
    if isinstance(value, str) and value:
        value = annotation(value)
    if not isinstance(value, annotation):
        return UNHANDLED
    from typer._param_types import coerce_cli_path

    return coerce_cli_path(value, info, path_type=annotation, param=param, ctx=ctx)


def _number(annotation: type[Any], info: Any, value: str) -> Any:
    """Only ``-?digits`` (and ``-?digits.digits`` for float) inside min/max; no clamping."""
    if not 0 < len(value) <= _MAX_NUMBER_CHARS:
        return UNHANDLED
    unsigned = value[1:] if value.startswith("-") else value
    whole, _, fraction = unsigned.partition(".")
    if not whole or not set(whole) <= _DIGITS or (fraction and not set(fraction) <= _DIGITS):
        return UNHANDLED
    if "." in unsigned and (annotation is int or not fraction):
        return UNHANDLED
    return _in_range(info, annotation(value))


def _in_range(info: Any, number: float) -> Any:
    """The number when min/max allow it; out of range, or clamped, typer decides."""
    low, high = getattr(info, "min", None), getattr(info, "max", None)
    if getattr(info, "clamp", False) or (low is not None and number < low):
        return UNHANDLED
    return UNHANDLED if high is not None and number > high else number


def _choice(annotation: type[Enum], info: Any, value: str, ctx: Any) -> Any:
    from typer._param_types import normalize_choice_value

    case_sensitive = getattr(info, "case_sensitive", True)
    wanted = normalize_choice_value(value, case_sensitive, ctx)
    for member in annotation:
        if normalize_choice_value(member, case_sensitive, ctx) == wanted:
            return member
    return UNHANDLED

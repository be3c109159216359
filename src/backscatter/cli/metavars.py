"""Help and usage lines in click's conventions: ``PATH...``, ``--format [jsonl|json|table]``.

Typer 0.2x writes a value's Python type where click writes a metavar, and braces around a
required argument: ``parse [OPTIONS] {paths}...``, ``paths... <list[str]>``, ``--key <int>``,
and ``<bool>`` after every flag (``typer/core.py``: ``display_type``, ``_usage_display_name``).
Users of git, pip or click tools read ``PATH...`` and ``--key INTEGER`` (issue 10, "CLI
conventions"), so :func:`install` gives typer's parameters click's metavars: an argument shows
its metavar (or its name in capitals) with ``...`` when it takes several values, in brackets
only when optional; an option shows its ``metavar=`` when it has one, else click's type name
(``TEXT``, ``INTEGER``, ``FLOAT``, ``PATH``/``FILE``/``DIRECTORY``, ``[a|b|c]`` for choices), and
a flag shows nothing. With a typer that has no such methods it does nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args, get_origin

_TYPE_NAMES = {str: "TEXT", int: "INTEGER", float: "FLOAT", bool: "BOOLEAN"}


def install() -> bool:
    """Give typer's parameters click's metavars; True when typer has the methods this needs."""
    try:
        from typer._coercion import TypeDescriptor  # noqa: F401 (what value_metavar reads)
        from typer._param_types import normalize_choice_value  # noqa: F401
        from typer.core import TyperArgument, TyperOption

        for method in ("display_type_rich", "_rich_display_name", "_usage_display_name"):
            getattr(TyperArgument, method)
        typer_option_metavar = TyperOption.display_type_rich
    except (ImportError, AttributeError):
        return False
    if getattr(typer_option_metavar, "_backscatter_click", False):
        return True

    def display_type_rich(option: Any, ctx: Any) -> str | None:
        try:
            return option_metavar(option, ctx)
        except AttributeError:  # a parameter unlike the ones this module knows: typer's
            return typer_option_metavar(option, ctx)

    display_type_rich._backscatter_click = True  # type: ignore[attr-defined]
    TyperArgument.display_type_rich = _argument_type
    TyperArgument._rich_display_name = argument_name
    TyperArgument._usage_display_name = _argument_usage
    TyperOption.display_type_rich = display_type_rich
    return True


def argument_name(argument: Any) -> str:
    """``PATH...``: the metavar (else the name in capitals), ``...`` for several values."""
    name = argument.metavar or argument.name.upper()
    several = argument.nargs != 1 and not name.endswith("...")
    return f"{name}..." if several else name


def _argument_usage(argument: Any) -> str:
    name = argument_name(argument)
    return name if argument.required else f"[{name}]"


def _argument_type(argument: Any, ctx: Any) -> str | None:
    """Nothing beside the name: the name is the metavar, and the help says what it takes."""
    return None


def option_metavar(option: Any, ctx: Any) -> str | None:
    """What follows the option's name in help: its metavar, click's type name, or nothing."""
    if option.metavar is not None:
        return option.metavar
    if option.is_flag or option.count:
        return None
    name = value_metavar(option.type_descriptor, ctx)
    return f"{name}..." if option.nargs != 1 else name


def value_metavar(descriptor: Any, ctx: Any) -> str:
    """click's name for the values a typer parameter takes."""
    if descriptor.is_choice:
        from typer._param_types import normalize_choice_value

        choices = (
            normalize_choice_value(choice, descriptor.case_sensitive, ctx)
            for choice in descriptor.choices or ()
        )
        return f"[{'|'.join(choices)}]"
    annotation = descriptor.annotation
    if get_origin(annotation) in (list, tuple):
        return " ".join(_type_name(descriptor, arg) for arg in get_args(annotation)[:4])
    return _type_name(descriptor, annotation)


def _type_name(descriptor: Any, annotation: Any) -> str:
    info = descriptor.parameter_info
    if descriptor.is_path or (isinstance(annotation, type) and issubclass(annotation, Path)):
        return {"file": "FILE", "dir": "DIRECTORY"}.get(descriptor.path_type, "PATH")
    if descriptor.is_datetime and info.formats:
        return f"[{'|'.join(info.formats)}]"
    name = _TYPE_NAMES.get(annotation) or getattr(annotation, "__name__", "VALUE").upper()
    return f"{name} RANGE" if descriptor.is_ranged else name

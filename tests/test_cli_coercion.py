"""Command-line values converted without pydantic give exactly what typer's own conversion gives.

backscatter.cli.coercion converts plain values itself so that a command does not import
pydantic (issue 10, start-up); it must not change one answer. Every parameter of the app, with
values of its type that are valid, odd and wrong, goes through both conversions here.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Any, get_args, get_origin

import pytest
import typer.main

from backscatter.cli import app

typer_coercion = pytest.importorskip("typer._coercion")
if not hasattr(typer_coercion, "build_runtime_param"):  # click-based typer: nothing to compare
    pytest.skip("this typer converts values without pydantic", allow_module_level=True)

from typer._click import Context  # noqa: E402
from typer._click.exceptions import BadParameter  # noqa: E402


def _parameters() -> list[tuple[str, Any, Context]]:
    root = typer.main.get_command(app)
    found: list[tuple[str, Any, Context]] = []

    def walk(command: Any, ctx: Context, path: str) -> None:
        for param in command.params:
            found.append((f"{path} {param.name}", param, ctx))
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, Context(sub, info_name=name, parent=ctx), f"{path} {name}")

    walk(root, Context(root, info_name="backscatter"), "backscatter")
    return found


def _samples(annotation: Any, existing: str) -> list[Any]:
    if get_origin(annotation) is list:
        (item,) = get_args(annotation)
        return [[value] for value in _samples(item, existing)] + [[], "solo"]
    if annotation is bool:
        return [True, False, "true", "no"]
    if annotation is int:
        return ["3", "-2", "0", "007", "1.0", "x", " 4", "99999999999999999999999", 5, True]
    if annotation is float:
        return ["0.5", "1", "-1.5", "1e3", "nan", "x", ".5", "2.", 0.25]
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        values = [member.value for member in annotation]
        return [*values, *(str(v).upper() for v in values), "bogus", next(iter(annotation))]
    if isinstance(annotation, type) and issubclass(annotation, Path):
        return ["missing/file.eml", existing, "-", "", "./a//b", Path(existing)]
    return ["text", "", "caf\u00e9", "--x"]


def _outcome(runtime: Any, param: Any, ctx: Context, value: Any) -> tuple[str, str]:
    """The converted value (its type and repr: nan equals nothing) or the error message."""
    try:
        converted = runtime._coerce_value(value, param=param, ctx=ctx)
        return (type(converted).__name__, repr(converted))
    except BadParameter as exc:
        return ("error", exc.format_message())


@pytest.mark.parametrize(
    ("name", "param", "ctx"), _parameters(), ids=[name for name, _, _ in _parameters()]
)
def test_every_parameter_converts_as_typer_does(name, param, ctx, tmp_path):
    existing = tmp_path / "real.eml"
    existing.write_bytes(b"Subject: x\n\n")
    ours = param.get_runtime_param()
    typers = typer_coercion.build_runtime_param(param.type_descriptor)
    for value in _samples(param.type_descriptor.annotation, str(existing)):
        assert _outcome(ours, param, ctx, value) == _outcome(typers, param, ctx, value), value


def test_plain_parameters_do_not_use_typer_s_adapter():
    """The point of the module: the app's parameters are all plain ones."""
    from backscatter.cli import coercion

    assert coercion.install()
    kinds = {type(param.get_runtime_param()).__name__ for _, param, _ in _parameters()}
    assert kinds == {"PlainRuntimeParam"}

"""Every command explains itself the way its peers do (issue 10, "CLI conventions").

The whole command tree is walked, so a command added later is held to the same rules: a help
text, an example (a line that starts with ``backscatter`` and the command's own words), help
on every option and argument, click's metavars (``PATH...``, ``--format [a|b]``; no typer
``<list[str]>`` or ``{paths}``), and ``-h`` as well as ``--help``.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from backscatter import __version__
from backscatter.cli import app

ROOT = typer.main.get_command(app)


def _commands() -> list[tuple[tuple[str, ...], Any]]:
    found: list[tuple[tuple[str, ...], Any]] = []

    def walk(command: Any, path: tuple[str, ...]) -> None:
        found.append((path, command))
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, (*path, name))

    walk(ROOT, ())
    return found


COMMANDS = _commands()
IDS = [" ".join(("backscatter", *path)) for path, _ in COMMANDS]


def _context(path: tuple[str, ...]) -> Any:
    ctx = ROOT.make_context("backscatter", [], resilient_parsing=True)
    command = ROOT
    for name in path:
        command = command.commands[name]
        ctx = command.make_context(name, [], parent=ctx, resilient_parsing=True)
    return ctx


def _examples(command: Any) -> list[str]:
    """The lines of help and epilog that read as a command line."""
    lines = f"{command.help or ''}\n{command.epilog or ''}".splitlines()
    found = []
    for line in lines:
        text = line.strip().removeprefix("Examples:").removeprefix("Example:").strip()
        if text.startswith(("backscatter ", "$ backscatter ")):
            found.append(text.removeprefix("$ "))
    return found


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=IDS)
def test_command_has_help_and_an_example_of_itself(path, command):
    assert (command.help or "").strip(), "no help text"
    wanted = " ".join(("backscatter", *path)) + " "
    assert any(f"{example} ".startswith(wanted) for example in _examples(command)), (
        f"no example starting with {wanted.strip()!r}"
    )


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=IDS)
def test_every_option_and_argument_has_help(path, command):
    missing = [param.name for param in command.params if not (param.help or "").strip()]
    assert missing == []


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=IDS)
def test_metavars_are_click_style(path, command):
    ctx = _context(path)
    shown = [command.get_usage(ctx)]
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx)
        if record is not None:
            shown.append(record[0])
    bad = [text for text in shown if "<" in text or "{" in text]
    assert bad == []


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=IDS)
def test_dash_h_is_help(path, command):
    result = CliRunner().invoke(app, [*path, "-h"], prog_name="backscatter")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: {' '.join(('backscatter', *path))} ")


def test_paths_argument_reads_path_dots():
    ctx = _context(("parse",))
    assert ROOT.commands["parse"].get_usage(ctx) == "Usage: backscatter parse [OPTIONS] PATH..."


def test_choices_are_shown():
    ctx = _context(("parse",))
    option = next(p for p in ROOT.commands["parse"].params if p.name == "output_format")
    assert option.get_help_record(ctx)[0] == "-f, --format [jsonl|json|table|csv|parquet]"


def test_version_as_the_console_script_prints_it():
    for flag in ("--version", "-V"):
        result = subprocess.run(
            [sys.executable, "-m", "backscatter", flag],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert (result.returncode, result.stdout) == (0, f"backscatter {__version__}\n")


def test_completion_is_offered():
    result = CliRunner().invoke(app, ["--help"], prog_name="backscatter")
    assert "--install-completion" in result.output
    assert "--show-completion" in result.output

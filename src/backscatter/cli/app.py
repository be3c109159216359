"""The typer application every command module registers on, and the options all commands share.

Start-up is part of the interface (issue 10): ``backscatter --help`` and ``--version`` import
typer and nothing of backscatter's own beyond this package, and values reach the commands
without pydantic (:mod:`backscatter.cli.coercion`). Help is click's plain layout: typer's rich
panels import rich, which took ``--help`` from about 0.12 s to 0.25 s of CPU on the
development machine (the whole start-up budget). Metavars follow click
(:mod:`backscatter.cli.metavars`).
"""

from __future__ import annotations

from typing import Annotated

import typer

from backscatter import __version__
from backscatter.cli import coercion, metavars

coercion.install()
metavars.install()

app = typer.Typer(
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    # -h as well as --help, on every command (click hands it down to subcommands)
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Tell a genuine bounce from backscatter and fake non-delivery reports.",
    epilog="\b\nExamples:\n"
    "  backscatter parse bounces.mbox --format table\n"
    "  backscatter score bounces.mbox --sent-log sent.db",
)


def examples(*lines: str) -> str:
    """A command's ``epilog``: its examples, one per line, kept as written (click rewraps
    any other paragraph to the terminal's width)."""
    title = "Example:" if len(lines) == 1 else "Examples:"
    return "\b\n" + "\n".join([title, *(f"  {line}" for line in lines)])


def _print_version(requested: bool) -> None:
    if requested:
        typer.echo(f"backscatter {__version__}")
        raise typer.Exit()


@app.callback()
def _global_options(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            "-V",
            callback=_print_version,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """Options every command shares."""

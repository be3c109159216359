"""``backscatter batv``: sign and verify BATV envelope senders (Exim-compatible prvs)."""

from __future__ import annotations

from typing import Annotated

import typer

from backscatter.cli.app import app
from backscatter.errors import BackscatterError
from backscatter.sentlog import batv

batv_app = typer.Typer(no_args_is_help=True, help="BATV tags on envelope senders.")
app.add_typer(batv_app, name="batv")

SecretOption = Annotated[str, typer.Option("--secret", help="The BATV secret.")]


@batv_app.command("sign")
def sign_command(
    address: Annotated[str, typer.Argument(help="The envelope sender to tag.")],
    secret: SecretOption,
    key: Annotated[int, typer.Option("--key", help="Key number, 0-9.")] = 0,
) -> None:
    """Print the BATV-tagged form of an address (valid for 7 days)."""
    try:
        typer.echo(batv.sign(address, secret, key))
    except ValueError as exc:
        raise BackscatterError(str(exc)) from None


@batv_app.command("verify")
def verify_command(
    address: Annotated[str, typer.Argument(help="A tagged address, e.g. a bounce's recipient.")],
    secret: SecretOption,
) -> None:
    """Exit 0 when the tag is valid, 1 when it is invalid or expired."""
    check = batv.verify(address, secret)
    if check.valid:
        typer.echo(f"valid: {check.address} (key {check.key})")
        return
    typer.echo(f"invalid: {check.reason}")
    raise typer.Exit(1)

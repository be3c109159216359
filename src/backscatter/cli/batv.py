"""``backscatter batv``: sign and verify BATV envelope senders (Exim-compatible prvs)."""

from __future__ import annotations

from typing import Annotated

import typer

from backscatter.cli.app import app, examples
from backscatter.errors import BackscatterError

batv_app = typer.Typer(
    no_args_is_help=True,
    help="BATV tags on envelope senders: a bounce to an untagged or badly tagged address "
    "returns mail we did not send.",
    epilog=examples("backscatter batv sign alice@example.com --secret s3cret"),
)
app.add_typer(batv_app, name="batv")

SecretOption = Annotated[
    str,
    typer.Option(
        "--secret", metavar="SECRET", help="The BATV secret (the same on every outbound host)."
    ),
]


@batv_app.command(
    "sign", epilog=examples("backscatter batv sign alice@example.com --secret s3cret --key 1")
)
def sign_command(
    address: Annotated[str, typer.Argument(metavar="ADDRESS", help="The envelope sender to tag.")],
    secret: SecretOption,
    key: Annotated[
        int,
        typer.Option(
            "--key", metavar="0-9", help="Key number, 0-9 (lets a new secret replace an old)."
        ),
    ] = 0,
) -> None:
    """Print the BATV-tagged form of an address (valid for 7 days)."""
    from backscatter.sentlog import batv

    try:
        typer.echo(batv.sign(address, secret, key))
    except ValueError as exc:
        raise BackscatterError(str(exc)) from None


@batv_app.command(
    "verify",
    epilog=examples("backscatter batv verify prvs=1234abcdef=alice@example.com --secret s3cret"),
)
def verify_command(
    address: Annotated[
        str,
        typer.Argument(metavar="ADDRESS", help="A tagged address, e.g. a bounce's recipient."),
    ],
    secret: SecretOption,
) -> None:
    """Exit 0 when the tag is valid, 1 when it is invalid or expired."""
    from backscatter.sentlog import batv

    check = batv.verify(address, secret)
    if check.valid:
        typer.echo(f"valid: {check.address} (key {check.key})")
        return
    typer.echo(f"invalid: {check.reason}")
    raise typer.Exit(1)

"""Our own infrastructure, from an optional TOML file: what only a real sender can know.

our_domains = ["example.org"]
relay_hosts = ["smtp-out1.example.org", "mx.example.org"]
relay_networks = ["192.0.2.0/24", "2001:db8::/32"]
never_send = ["webmaster@*", "hostmaster@*", "noc@*", "noreply@*", "*-donotreply@*"]
dkim_domains = ["bounces.example.org"]   # d= of our signatures, beyond our_domains
[batv_secrets]
0 = "a long random secret"

``never_send``: addresses that receive mail but never send any (role addresses published in
WHOIS and RIR records draw backscatter all day). Each pattern matches the whole address,
case-insensitively; ``*`` stands for any run of characters, ``?`` for one (fnmatch style,
without ``[...]``). A bounce sent back to one of them returns something it never sent.
"""

from __future__ import annotations

import ipaddress
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from backscatter.errors import BackscatterError
from backscatter.features.patterns import AddressPatterns

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class OurInfrastructure:
    our_domains: tuple[str, ...] = ()
    relay_hosts: tuple[str, ...] = ()
    relay_networks: tuple[Network, ...] = ()
    batv_secrets: dict[int, str] = field(default_factory=dict)
    never_send: AddressPatterns = field(default_factory=AddressPatterns)
    dkim_domains: tuple[str, ...] = ()  # d= values that sign our mail besides our_domains

    @property
    def signing_domains(self) -> tuple[str, ...]:
        """Whose DKIM signature is ours: our domains and any extra signing domains."""
        return self.our_domains + self.dkim_domains

    @property
    def given(self) -> bool:
        return bool(
            self.our_domains or self.relay_hosts or self.relay_networks or self.batv_secrets
        )


def load_config(path: str | Path | None) -> OurInfrastructure:
    """Read the TOML config; a missing or malformed file is a user error, said in one line."""
    if path is None:
        return OurInfrastructure()
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise BackscatterError(f"cannot read config {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise BackscatterError(f"config {path} is not valid TOML: {exc}") from None
    try:
        return OurInfrastructure(
            our_domains=tuple(d.lower().strip(".") for d in data.get("our_domains", ())),
            relay_hosts=tuple(h.lower().strip(".") for h in data.get("relay_hosts", ())),
            relay_networks=tuple(
                ipaddress.ip_network(n, strict=False) for n in data.get("relay_networks", ())
            ),
            batv_secrets={int(k): str(v) for k, v in data.get("batv_secrets", {}).items()},
            never_send=AddressPatterns.of(_strings(data.get("never_send", []), "never_send")),
            dkim_domains=tuple(d.lower().strip(".") for d in data.get("dkim_domains", ())),
        )
    except (TypeError, ValueError, AttributeError) as exc:
        raise BackscatterError(f"config {path}: {exc}") from None


def _strings(value: object, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{key} must be a list of strings")
    return value

"""The made-up world the generator writes mail in: our company, other servers, phishers.

Everything is under reserved names (``.example``, RFC 5737 addresses), randomised per message
so that no template, host or phrase is tied to one label.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

OUR_DOMAIN = "ourcompany.example"
OUR_RELAYS = ("smtp1.out.ourcompany.example", "smtp2.out.ourcompany.example")
OUR_NETWORK = "198.51.100.0/24"
OUR_MX = "mx1.ourcompany.example"
BATV_SECRET = "generator-secret-not-for-production"

_WORDS = (
    "north",
    "river",
    "blue",
    "delta",
    "atlas",
    "cedar",
    "nova",
    "pixel",
    "summit",
    "harbor",
    "orbit",
    "maple",
    "zenith",
    "coral",
    "falcon",
    "ember",
    "lumen",
    "quartz",
    "willow",
    "vertex",
)
_TLDS = ("example", "example.com", "example.net", "example.org", "co.example", "example.de")
_PEOPLE = (
    "alice",
    "bob",
    "carol",
    "dave",
    "erin",
    "frank",
    "grace",
    "heidi",
    "ivan",
    "judy",
    "kim",
    "leo",
    "mia",
    "nina",
    "oscar",
    "pia",
    "quinn",
    "rose",
    "sam",
    "tina",
)
_SUBJECTS = (
    "Quarterly figures",
    "Meeting notes",
    "Invoice {n}",
    "Your order {n}",
    "Re: proposal",
    "Newsletter {n}",
    "Contract draft",
    "Weekly report",
    "Ticket #{n}",
    "Holiday plans",
)
_SPAM = (
    "Cheap meds {n}",
    "You won {n} dollars",
    "Hot singles near you",
    "Crypto profit {n}%",
    "Replica watches",
    "Loan approved #{n}",
    "Re: your invoice {n}",
    "Increase your size",
)


@dataclass(frozen=True)
class Scene:
    """The fixed facts of one generated message."""

    rng: random.Random
    now: datetime

    def word(self) -> str:
        return self.rng.choice(_WORDS)

    def domain(self) -> str:
        return f"{self.word()}{self.rng.randrange(1, 999)}.{self.rng.choice(_TLDS)}"

    def person(self, domain: str) -> str:
        name = self.rng.choice(_PEOPLE)
        return f"{name}{self.rng.choice(('', '.', '_'))}{self.rng.choice(_PEOPLE) if self.rng.random() < 0.4 else ''}@{domain}"

    def ip(self, network: str = "203.0.113") -> str:
        return f"{network}.{self.rng.randrange(1, 255)}"

    def our_ip(self) -> str:
        return self.ip("198.51.100")

    def message_id(self, domain: str) -> str:
        return f"{self.rng.getrandbits(64):016x}.{self.rng.randrange(10**6)}@{domain}"

    def subject(self, spam: bool = False) -> str:
        return self.rng.choice(_SPAM if spam else _SUBJECTS).format(n=self.rng.randrange(100, 9999))

    def moment(self, hours_ago: float) -> datetime:
        return self.now - timedelta(hours=hours_ago)


def rfc2822(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")


def default_now() -> datetime:
    return datetime(2025, 6, 2, 12, 0, tzinfo=UTC)

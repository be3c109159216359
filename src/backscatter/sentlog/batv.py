"""BATV (Bounce Address Tag Validation) in Exim's ``prvs`` form, plus recognising other tags.

A BATV-signed envelope sender ``prvs=KDDDSSSSSS=local@domain`` carries a key number K, the
day (mod 1000) the tag expires DDD, and six hex digits of HMAC-SHA1(secret, K + DDD +
address). A bounce to a valid tag answers mail we really sent; a bounce to our untagged
address, when we tag everything, is backscatter. The arithmetic follows Exim's ``${prvs}``
and ``${prvscheck}`` exactly, so tags interoperate in both directions.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from dataclasses import dataclass

#: How many days a new tag stays valid (Exim's ${prvs} uses 7).
VALID_DAYS = 7

_PRVS = re.compile(r"^prvs=([0-9])([0-9]{3})([0-9a-f]{6})=(.+)@([^@]+)$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class BatvCheck:
    """The outcome of checking one address; ``reason`` is a sentence for people."""

    valid: bool
    address: str
    key: int | None
    reason: str


@dataclass(frozen=True, slots=True)
class TaggedAddress:
    """An address with a recognised tag scheme and the plain address beneath it."""

    scheme: str
    address: str


def daystamp(offset_days: int = 0, now: float | None = None) -> str:
    """Exim's day stamp: days since the epoch, plus the offset, mod 1000, three digits."""
    seconds = time.time() if now is None else now
    return f"{(int(seconds) // 86400 + offset_days) % 1000:03d}"


def _hash(address: str, secret: str, key: int, stamp: str) -> str:
    message = f"{key}{stamp}{address}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha1).hexdigest()[:6]


def sign(address: str, secret: str, key: int = 0, now: float | None = None) -> str:
    """Tag an envelope sender as Exim's ``${prvs{address}{secret}{key}}`` would."""
    if not 0 <= key <= 9:
        raise ValueError("the BATV key number is one digit, 0-9")
    if "@" not in address:
        raise ValueError(f"not an address: {address!r}")
    stamp = daystamp(VALID_DAYS, now)
    return f"prvs={key}{stamp}{_hash(address, secret, key, stamp)}={address}"


def verify(tagged: str, secrets: str | dict[int, str], now: float | None = None) -> BatvCheck:
    """Check a tag as Exim's ``${prvscheck}`` does: right hash, and not expired.

    ``secrets`` is one secret for every key number, or a mapping from key number to secret
    (key rotation).
    """
    match = _PRVS.match(tagged.strip().strip("<>"))
    if match is None:
        return BatvCheck(False, tagged, None, "not a prvs BATV address")
    key, stamp, given, local, domain = match.groups()
    address = f"{local}@{domain}"
    secret = secrets if isinstance(secrets, str) else secrets.get(int(key))
    if secret is None:
        return BatvCheck(False, address, int(key), f"no secret for key number {key}")
    if not hmac.compare_digest(_hash(address, secret, int(key), stamp), given.lower()):
        return BatvCheck(False, address, int(key), "the tag's signature does not match")
    today, expires = int(daystamp(0, now)), int(stamp)
    if expires < VALID_DAYS and today >= 1000 - VALID_DAYS:
        today = 0  # the day counter wrapped past 999 (Exim makes the same adjustment)
    if expires < today:
        return BatvCheck(False, address, int(key), "the tag has expired")
    return BatvCheck(True, address, int(key), "valid")


def recognise(address: str) -> TaggedAddress | None:
    """Name the tag scheme on an address without verifying it.

    Seen in the wild: Exim/IETF-draft ``prvs=``, Barracuda ``btv1==...==``, Microsoft's
    ``msprvs1=``, and SRS forwarding addresses (``SRS0=``/``SRS1=``).
    """
    value = address.strip().strip("<>")
    local, _, domain = value.rpartition("@")
    lowered = local.lower()
    if _PRVS.match(value):
        return TaggedAddress("prvs", value.split("=", 2)[2])
    if lowered.startswith("btv1==") and "==" in local[6:]:
        return TaggedAddress("btv1", f"{local[6:].split('==', 1)[1]}@{domain}")
    if lowered.startswith("msprvs1=") and local.count("=") >= 2:
        return TaggedAddress("msprvs1", f"{local.split('=', 2)[2]}@{domain}")
    if lowered.startswith(("srs0=", "srs0+", "srs0-")):
        parts = local[5:].split("=")
        if len(parts) >= 4:
            return TaggedAddress("srs0", f"{'='.join(parts[3:])}@{parts[2]}")
    if lowered.startswith(("srs1=", "srs1+", "srs1-")):
        return TaggedAddress("srs1", value)
    return None

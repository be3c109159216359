"""The message a bounce returns: one we really sent, or spam that forged our address."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from backscatter.sentlog import sign
from backscatter.synth.world import BATV_SECRET, OUR_DOMAIN, OUR_RELAYS, Scene, rfc2822


@dataclass(frozen=True)
class Original:
    headers: str  # the original's header block, CRLF-free
    body: str
    message_id: str
    sender: str
    recipient: str
    sent_at: datetime
    envelope_sender: str  # where its bounce goes (BATV-tagged when we tag)


def ours(scene: Scene, recipient_domain: str, batv: bool) -> Original:
    """Mail we sent: our relay in the chain, usually our DKIM signature."""
    rng = scene.rng
    sender = scene.person(OUR_DOMAIN)
    recipient = scene.person(recipient_domain)
    sent_at = scene.moment(rng.uniform(0.05, 60))
    mid = scene.message_id(OUR_DOMAIN)
    relay = rng.choice(OUR_RELAYS)
    lines = [
        f"Return-Path: <{sender}>",
        f"Received: from [192.168.{rng.randrange(255)}.{rng.randrange(255)}] (laptop.{OUR_DOMAIN} "
        f"[{scene.our_ip()}])\n\tby {relay} (Postfix) with ESMTPSA id {rng.getrandbits(40):010X}\n"
        f"\tfor <{recipient}>; {rfc2822(sent_at)}",
    ]
    if rng.random() < 0.85:
        lines.append(
            f"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d={OUR_DOMAIN}; s=mail;\n"
            f"\tt={int(sent_at.timestamp())}; h=from:to:subject:date:message-id;\n"
            f"\tbh={rng.getrandbits(128):032x}=; b={rng.getrandbits(256):064x}"
        )
    lines += _common(scene, sender, recipient, mid, sent_at, scene.subject())
    envelope = sign(sender, BATV_SECRET, 1, now=sent_at.timestamp()) if batv else sender
    return Original(
        "\n".join(lines),
        "Hello,\n\nsee below.\n\nRegards\n",
        mid,
        sender,
        recipient,
        sent_at,
        envelope,
    )


def forged(scene: Scene, recipient_domain: str) -> Original:
    """Spam that forged one of our addresses: a botnet's chain, no DKIM of ours."""
    rng = scene.rng
    sender = (
        scene.person(OUR_DOMAIN)
        if rng.random() < 0.8
        else f"{scene.word()}{rng.randrange(99)}@{OUR_DOMAIN}"
    )
    recipient = scene.person(recipient_domain)
    sent_at = scene.moment(rng.uniform(0.05, 60))
    spam_host = f"{rng.choice(('dsl', 'pool', 'dyn', 'cpe'))}-{rng.randrange(1, 255)}-{rng.randrange(255)}.{scene.domain()}"
    mid_domain = rng.choice((OUR_DOMAIN, scene.domain(), spam_host))
    mid = scene.message_id(mid_domain)
    lines = [
        f"Return-Path: <{sender}>",
        f"Received: from {spam_host} ({spam_host} [{scene.ip('192.0.2')}])\n\tby "
        f"mx.{recipient_domain} with SMTP id {rng.getrandbits(40):010X}\n"
        f"\tfor <{recipient}>; {rfc2822(sent_at)}",
    ]
    if rng.random() < 0.3:
        lines.append(
            f"DKIM-Signature: v=1; a=rsa-sha256; d={scene.domain()}; s=s1; b={rng.getrandbits(128):032x}"
        )
    lines += _common(scene, sender, recipient, mid, sent_at, scene.subject(spam=True))
    # Spammers sometimes reuse a tagged address they harvested: the tag is stale or wrong.
    envelope = (
        sign(sender, "not-our-secret", rng.randrange(10), now=sent_at.timestamp() - 30 * 86400)
        if rng.random() < 0.15
        else sender
    )
    return Original("\n".join(lines), "Buy now!\n", mid, sender, recipient, sent_at, envelope)


def _common(
    scene: Scene, sender: str, recipient: str, mid: str, sent_at: datetime, subject: str
) -> list[str]:
    return [
        f"From: {sender.split('@')[0].title()} <{sender}>",
        f"To: <{recipient}>",
        f"Subject: {subject}",
        f"Date: {rfc2822(sent_at)}",
        f"Message-ID: <{mid}>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
    ]

"""Write a labelled training set: genuine.mbox, spoofed.mbox, sentlog.csv and config.toml.

Genuine bounces return mail we sent (in the sent-log 95 % of the time, so that a gap in
the log is not fatal); backscatter returns spam that forged our address, in the same MTA
layouts; fake NDRs and forged DSNs imitate bounces. Reproducible from the seed.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

from backscatter.synth import bounces, fakes, originals
from backscatter.synth.world import (
    BATV_SECRET,
    OUR_DOMAIN,
    OUR_NETWORK,
    OUR_RELAYS,
    Scene,
    default_now,
)

COVERAGE = 0.95


def generate(
    folder: Path, genuine: int = 1500, backscatter: int = 800, fake: int = 800, seed: int = 1
) -> dict[str, int]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    scene = Scene(rng, default_now())
    sent_rows: list[tuple[str, str, str, str, str]] = []
    with (folder / "genuine.mbox").open("w") as good, (folder / "spoofed.mbox").open("w") as bad:
        for _ in range(genuine):
            original = originals.ours(scene, scene.domain(), batv=rng.random() < 0.3)
            if rng.random() < COVERAGE:
                sent_rows.append(
                    (
                        original.message_id,
                        original.sent_at.isoformat(),
                        original.sender,
                        original.recipient,
                        original.headers.split("Subject: ")[1].split("\n")[0],
                    )
                )
            _write(good, _bounce(scene, original))
        for _ in range(backscatter):
            _write(bad, _bounce(scene, originals.forged(scene, scene.domain())))
        for _ in range(fake):
            victim = scene.person(OUR_DOMAIN)
            _write(
                bad,
                fakes.fake_ndr(scene, victim)
                if rng.random() < 0.75
                else fakes.forged_dsn(scene, victim),
            )
        for _ in range(genuine // 10):  # we also send mail that is never bounced
            extra = originals.ours(scene, scene.domain(), batv=False)
            sent_rows.append(
                (extra.message_id, extra.sent_at.isoformat(), extra.sender, extra.recipient, "")
            )
    with (folder / "sentlog.csv").open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(("message_id", "sent_at", "sender", "recipient", "subject"))
        writer.writerows(sent_rows)
    (folder / "config.toml").write_text(
        f'our_domains = ["{OUR_DOMAIN}"]\nrelay_hosts = {list(OUR_RELAYS)!r}\n'.replace("'", '"')
        + f'relay_networks = ["{OUR_NETWORK}"]\n\n[batv_secrets]\n1 = "{BATV_SECRET}"\n'
    )
    return {"genuine": genuine, "spoofed": backscatter + fake, "sent_rows": len(sent_rows)}


def _bounce(scene: Scene, original: originals.Original) -> str:
    reporter = f"{scene.rng.choice(('mx', 'mail', 'smtp', 'mta1', 'in'))}.{original.recipient.split('@')[1]}"
    layout = scene.rng.choice(bounces.LAYOUTS)
    return layout(scene, original, reporter, scene.rng.choice(bounces.FAILURES))


def _write(out, message: str) -> None:
    out.write("From MAILER-DAEMON Mon Jun  2 12:00:00 2025\n")
    out.write(message.replace("\nFrom ", "\n>From "))
    out.write("\n\n")

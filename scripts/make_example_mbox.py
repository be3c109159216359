#!/usr/bin/env python3
"""Build data/examples/bounces.mbox, the quick start's example, from the test fixtures.

The fixtures are hand-written messages in each MTA's layout (no real mail), so the example
shows genuine bounces of several families beside an auto-reply and two fake NDRs.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [
    "postfix_dsn_user_unknown.eml",
    "exim_mailbox_full.eml",
    "qmail_host_unknown.eml",
    "sendmail_dsn_delayed.eml",
    "gmail_delayed_text.eml",
    "exchange_text_user_unknown.eml",
    "not_bounce_auto_reply.eml",
    "fake_ndr_html_quarantine.eml",
    "fake_ndr_plain_release_link.eml",
]


def main() -> None:
    target = ROOT / "data" / "examples" / "bounces.mbox"
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as out:
        for name in SOURCES:
            body = (ROOT / "tests" / "data" / "formats" / name).read_bytes()
            out.write(b"From MAILER-DAEMON Mon May 26 08:00:00 2025\n")
            out.write(body.replace(b"\nFrom ", b"\n>From ").rstrip(b"\n") + b"\n\n")
    print(f"wrote {target} ({len(SOURCES)} messages)")


if __name__ == "__main__":
    main()

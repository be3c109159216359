"""Phishing dressed as bounces: fake NDRs and forged DSNs with inconsistent headers."""

from __future__ import annotations

from backscatter.synth.bounces import auth_results, envelope_headers
from backscatter.synth.world import OUR_DOMAIN, Scene, rfc2822

_SUBJECTS = (
    "Undelivered mail: {n} messages pending",
    "Mail delivery failed: action required",
    "You have {n} held messages",
    "Quarantine notice: {n} messages blocked",
    "Undeliverable: messages could not be delivered to your inbox",
    "Mailbox storage full",
    "Delivery Status Notification (Failure)",
    "Release pending emails now",
    "Returned mail",
)
_LURES = (
    "{n} incoming messages could not be delivered to your inbox and are held in quarantine.",
    "Your mailbox storage is full. {n} messages were returned to the senders.",
    "Due to a sync error, {n} messages are pending delivery.",
    "Messages sent to your inbox could not be delivered. This is a temporary error.",
    "Your account will be suspended unless you verify your mailbox.",
)
_BUTTONS = (
    "Release messages",
    "Review messages",
    "Deliver to inbox",
    "Verify account",
    "Restore mailbox",
    "View pending mail",
    "Sign in to continue",
)
_SHORT = ("bit.ly", "tinyurl.com", "cutt.ly", "t.ly")


def _link(scene: Scene, victim: str) -> str:
    rng = scene.rng
    if rng.random() < 0.15:
        return f"https://{rng.choice(_SHORT)}/{rng.getrandbits(30):x}"
    if rng.random() < 0.1:
        return f"http://{scene.ip('192.0.2')}/mail/{rng.getrandbits(20):x}"
    host = rng.choice(
        (
            scene.domain(),
            f"{rng.getrandbits(60):x}.{scene.domain()}",
            f"webmail-{scene.word()}.{scene.domain()}",
        )
    )
    return (
        f"https://{host}/{rng.choice(('release', 'login', 'owa', 'verify', 'portal'))}?u={victim}"
    )


def fake_ndr(scene: Scene, victim: str) -> str:
    """A held-mail or undelivered notice with links; no delivery report inside."""
    rng = scene.rng
    n = rng.randrange(2, 30)
    sender_domain = scene.domain()
    display = rng.choice(
        (
            "Mail Delivery System",
            "Postmaster",
            "Mail Administrator",
            f"{OUR_DOMAIN} Admin",
            "Email Security",
            "IT Support",
            "Microsoft Outlook",
        )
    )
    sender = (
        rng.choice(("noreply", "postmaster", "mailer-daemon", "support", "admin"))
        + "@"
        + sender_domain
    )
    when = rfc2822(scene.moment(rng.uniform(0, 48)))
    lure = rng.choice(_LURES).format(n=n)
    links = [_link(scene, victim) for _ in range(rng.randrange(1, 4))]
    head = [
        f"Return-Path: <{rng.choice((sender, '', 'bounce-' + str(rng.randrange(999)) + '@' + scene.domain()))}>",
        f"Delivered-To: {victim}",
        f"Received: from {sender_domain} ({sender_domain} [{scene.ip('192.0.2')}])\n\tby mx1.{OUR_DOMAIN} with ESMTP; {when}",
        f"Authentication-Results: mx1.{OUR_DOMAIN}; {auth_results(scene, sender_domain)}",
        f"From: {display} <{sender}>",
        f"To: {victim}",
        f"Subject: {rng.choice(_SUBJECTS).format(n=n)}",
        f"Date: {when}",
        f"Message-ID: <{scene.message_id(sender_domain)}>",
        "MIME-Version: 1.0",
    ]
    button = rng.choice(_BUTTONS)
    dsn_imitation = (
        f"<p>Reporting-MTA: dns; mail.{victim.split('@')[1]}<br>Final-Recipient: rfc822; {victim}<br>"
        f"Action: failed<br>Status: 5.0.0</p>"
        if rng.random() < 0.3
        else ""
    )
    html = (
        f"<html><body><p>Dear {victim},</p><p>{lure}</p>{dsn_imitation}"
        + "".join(
            f'<p><a href="{url}">{button if i == 0 else url.split("/")[2]}</a></p>'
            for i, url in enumerate(links)
        )
        + (
            f'<form action="{links[0]}"><input name="password" type="password"></form>'
            if rng.random() < 0.1
            else ""
        )
        + "<p>This is an automated message, do not reply.</p></body></html>"
    )
    plain = f"Dear {victim},\n\n{lure}\n\n{button}: {links[0]}\n\nMail Delivery System\n"
    roll = rng.random()
    if roll < 0.45:
        return "\n".join([*head, "Content-Type: text/html; charset=utf-8"]) + "\n\n" + html + "\n"
    if roll < 0.75:
        boundary = f"alt{rng.getrandbits(40):x}"
        return (
            "\n".join([*head, f'Content-Type: multipart/alternative; boundary="{boundary}"'])
            + f"\n\n--{boundary}\nContent-Type: text/plain; charset=utf-8\n\n{plain}\n--{boundary}\n"
            f"Content-Type: text/html; charset=utf-8\n\n{html}\n--{boundary}--\n"
        )
    if roll < 0.88:
        boundary = f"mix{rng.getrandbits(40):x}"
        name = rng.choice(
            ("messages.html", "release.htm", "mailbox.svg", "undelivered.zip", "NDR_report.html")
        )
        return (
            "\n".join([*head, f'Content-Type: multipart/mixed; boundary="{boundary}"'])
            + f"\n\n--{boundary}\nContent-Type: text/plain; charset=utf-8\n\n{plain}\n--{boundary}\n"
            f'Content-Type: application/octet-stream; name="{name}"\nContent-Disposition: attachment; '
            f'filename="{name}"\nContent-Transfer-Encoding: base64\n\nPGh0bWw+PC9odG1sPg==\n--{boundary}--\n'
        )
    return "\n".join([*head, "Content-Type: text/plain; charset=utf-8"]) + "\n\n" + plain


def forged_dsn(scene: Scene, victim: str) -> str:
    """A multipart/report with made-up delivery status that does not add up, plus a lure."""
    rng = scene.rng
    phish = scene.domain()
    claimed = rng.choice((f"mail.{OUR_DOMAIN}", f"mx.{scene.domain()}"))
    when = rfc2822(scene.moment(rng.uniform(0, 48)))
    boundary = f"rep{rng.getrandbits(40):x}"
    link = _link(scene, victim)
    if rng.random() < 0.5:  # copied from a real report: consistent on its face
        status, action = rng.choice(
            (("5.1.1", "failed"), ("5.2.2", "failed"), ("4.4.7", "delayed"), ("4.4.7", "failed"))
        )
    else:
        status, action = rng.choice(
            (("5.0.0", "delayed"), ("5.1.1", "delayed"), ("2.0.0", "failed"))
        )
    head = envelope_headers(scene, phish, victim, when, auth_results(scene, phish)) + [
        f"From: Mail Delivery System <{rng.choice(('mailer-daemon', 'postmaster'))}@{phish}>",
        f"To: {victim}",
        f"Subject: {rng.choice(('Undelivered Mail Returned to Sender', 'Delivery Status Notification (Failure)', 'Returned mail: action required'))}",
        f"Date: {when}",
        f"Message-ID: <{scene.message_id(phish)}>",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"',
    ]
    recipient = scene.person(scene.domain())
    return (
        "\n".join(head) + f"\n\n--{boundary}\nContent-Type: text/plain; charset=utf-8\n\n"
        f"Your message to {recipient} could not be delivered.\n{rng.choice(_LURES).format(n=rng.randrange(2, 9))}\n"
        f"{rng.choice(_BUTTONS)}: {link}\n\n--{boundary}\nContent-Type: message/delivery-status\n\n"
        f"Reporting-MTA: dns; {claimed}\n\nFinal-Recipient: rfc822; {recipient}\nAction: {action}\n"
        f"Status: {status}\nDiagnostic-Code: smtp; 550 {status} mailbox unavailable\n\n--{boundary}--\n"
    )

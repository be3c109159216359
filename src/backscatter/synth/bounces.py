"""Bounce layouts real MTAs write. Genuine bounces and backscatter use the same ones: what
differs is only the original they return, as in real life."""

from __future__ import annotations

from collections.abc import Callable

from backscatter.synth.originals import Original
from backscatter.synth.world import OUR_MX, Scene, rfc2822

FAILURES = (
    (
        "5.1.1",
        "550",
        "5.1.1 <{r}>: Recipient address rejected: User unknown in local recipient table",
    ),
    ("5.1.1", "550", "5.1.1 The email account that you tried to reach does not exist"),
    ("5.2.2", "552", "5.2.2 <{r}>: Mailbox full: quota exceeded"),
    ("5.7.1", "554", "5.7.1 Message rejected as spam by content filter"),
    ("5.7.26", "550", "5.7.26 Unauthenticated email is not accepted due to domain's DMARC policy"),
    ("4.4.7", "451", "4.4.7 Message delivery time expired"),
    ("4.4.7", "550", "4.4.7 QUEUE.Expired; message expired"),  # Exchange: reply and status disagree
    ("5.1.2", "550", "5.1.2 Host or domain name not found"),
    ("5.3.4", "552", "5.3.4 Message size exceeds fixed maximum message size"),
)


HELP_LINKS = (
    "https://support.{domain}/mail/?p=NoSuchUser",
    "https://{domain}/help/delivery-errors",
    "https://docs.{domain}/exchange/mail-flow/non-delivery-reports",
    "http://www.{domain}/postmaster/",
)


def help_link(scene: Scene, reporter: str) -> str:
    """Real providers link to their own help pages from bounces (Gmail, Office 365, ...)."""
    domain = reporter.split(".", 1)[1] if reporter.count(".") > 1 else reporter
    return scene.rng.choice(HELP_LINKS).format(domain=domain)


def envelope_headers(scene: Scene, reporter: str, to: str, when: str, auth: str) -> list[str]:
    """How a bounce arrives at our MX: trace, authentication result, envelope recipient.

    A quarter have no Return-Path at all, as bounces exported from a mail client often do.
    """
    return_path = ["Return-Path: <>"] if scene.rng.random() < 0.75 else []
    # A quarter are relayed to us by another domain's host (outbound relays, smart hosts).
    last_hop = (
        reporter if scene.rng.random() < 0.75 else f"relay{scene.rng.randrange(9)}.{scene.domain()}"
    )
    return [
        *return_path,
        f"Delivered-To: {to}",
        f"Received: from {last_hop} ({last_hop} [{scene.ip()}])\n\tby {OUR_MX} (Postfix) with ESMTPS id "
        f"{scene.rng.getrandbits(40):010X}\n\tfor <{to}>; {when}",
        f"Authentication-Results: {OUR_MX}; {auth}",
    ]


def auth_results(scene: Scene, reporter: str) -> str:
    roll = scene.rng.random()
    if roll < 0.7:
        return f"spf=pass smtp.helo={reporter}"
    if roll < 0.85:
        return "spf=none smtp.mailfrom=<>"
    return f"spf=softfail smtp.helo={reporter}"


def bounce_date(scene: Scene, original: Original) -> str:
    """Bounces come seconds to days after the original."""
    delay = (scene.now - original.sent_at) * scene.rng.uniform(0.001, 0.9)
    return rfc2822(original.sent_at + delay)


def _returned(scene: Scene, original: Original) -> tuple[str, str]:
    """(content type, content) of the returned copy: whole, headers only, or nothing."""
    roll = scene.rng.random()
    if roll < 0.55:
        return "message/rfc822", f"{original.headers}\n\n{original.body}"
    if roll < 0.9:
        return "text/rfc822-headers", original.headers
    return "", ""


def dsn(scene: Scene, original: Original, reporter: str, code: tuple[str, str, str]) -> str:
    """multipart/report with a delivery-status part (Postfix, Sendmail, Exchange, ...)."""
    rng = scene.rng
    status, reply, text = code
    diagnostic = text.format(r=original.recipient)
    when = bounce_date(scene, original)
    action = "delayed" if status.startswith("4") and rng.random() < 0.5 else "failed"
    boundary = f"{rng.getrandbits(48):012X}.{rng.randrange(10**9)}/{reporter}"
    ctype, returned = _returned(scene, original)
    style = rng.choice(("postfix", "sendmail", "exchange", "office365"))
    said = (
        f"delivery temporarily suspended: connect to {reporter}[{scene.ip()}]:25: Connection timed out"
        if status.startswith("4") and rng.random() < 0.5
        else f"host {reporter} said: {reply} {diagnostic}"
    )
    user, _, domain = original.recipient.partition("@")
    human = {
        "postfix": f"This is the mail system at host {reporter}.\n\nI'm sorry to have to inform you that "
        f"your message could not\nbe delivered to one or more recipients.\n\n"
        f"<{original.recipient}>: {said}\n",
        # Office 365 writes lure-like words into every real NDR: a model must not call them phishing.
        "office365": f"Your message to {original.recipient} couldn't be delivered.\n{user} wasn't found at "
        f"{domain}.\n\n{original.envelope_sender.split('@')[0]}   Office 365   {user}\nAction Required"
        f"                 Recipient\n\nHow to Fix It\nThe address may be misspelled or may not exist. "
        f'Open this report and choose Send Again, or select the link "To send this message again, click '
        f'here."\n\nMore Info for Email Admins\nStatus code: {status}\nRemote server returned '
        f"'{reply} {diagnostic}'\n",
        "sendmail": f"The original message was received at {rfc2822(original.sent_at)}\n\n"
        f"   ----- The following addresses had permanent fatal errors -----\n<{original.recipient}>\n"
        f"    (reason: {reply} {diagnostic})\n",
        "exchange": f"Delivery has failed to these recipients or groups:\n\n{original.recipient}\n"
        f"The recipient's mailbox could not be reached.\n\nDiagnostic information for administrators:\n"
        f"Generating server: {reporter}\n{original.recipient}\nRemote Server returned '{reply} {diagnostic}'\n",
    }[style]
    if rng.random() < 0.4:
        human += f"\nFor more information see {help_link(scene, reporter)}\n"
    html_only = rng.random() < 0.15  # Office 365 and AOL send the human part as HTML only
    parts = (
        []
        if html_only
        else [f"--{boundary}\nContent-Type: text/plain; charset=us-ascii\n\n{human}"]
    )
    if html_only or rng.random() < 0.25:  # Exchange and Gmail send an HTML version too
        parts.append(
            f"--{boundary}\nContent-Type: text/html; charset=us-ascii\n\n<html><body><p>"
            f'{human.replace(chr(10), "<br>")}</p><p><a href="{help_link(scene, reporter)}">Learn more</a>'
            f"</p></body></html>\n"
        )
    for number in range(rng.choice((0, 0, 0, 1, 2, 3))):  # Gmail's inline icons
        parts.append(
            f'--{boundary}\nContent-Type: image/png; name="icon{number}.png"\nContent-Disposition: inline; '
            f'filename="icon{number}.png"\nContent-ID: <icon{number}>\nContent-Transfer-Encoding: base64\n\niVBORw0KGgo=\n'
        )
    parts += [
        f"--{boundary}\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; {reporter}\n"
        f"Arrival-Date: {rfc2822(original.sent_at)}\n\nFinal-Recipient: rfc822; {original.recipient}\n"
        f"Original-Recipient: rfc822;{original.recipient}\nAction: {action}\nStatus: {status}\n"
        f"Remote-MTA: dns; {reporter}\nDiagnostic-Code: smtp; {reply} {diagnostic}\n",
    ]
    if ctype:
        parts.append(f"--{boundary}\nContent-Type: {ctype}\n\n{returned}\n")
    head = envelope_headers(
        scene, reporter, original.envelope_sender, when, auth_results(scene, reporter)
    ) + [
        f"From: {rng.choice(('MAILER-DAEMON@' + reporter + ' (Mail Delivery System)', 'Mail Delivery Subsystem <MAILER-DAEMON@' + reporter + '>', 'postmaster@' + reporter))}",
        f"To: {original.envelope_sender}",
        f"Subject: {rng.choice(('Undelivered Mail Returned to Sender', 'Returned mail: see transcript for details', 'Undeliverable: ' + original.headers.split('Subject: ')[1].split(chr(10))[0], 'Delivery Status Notification (Failure)'))}",
        f"Date: {when}",
        f"Message-ID: <{scene.message_id(reporter)}>",
        "Auto-Submitted: auto-replied" if rng.random() < 0.7 else "X-Loop: no",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/report; report-type=delivery-status;\n\tboundary="{boundary}"',
    ]
    return (
        "\n".join(head)
        + "\n\nThis is a MIME-encapsulated message.\n\n"
        + "\n".join(parts)
        + f"--{boundary}--\n"
    )


def text(scene: Scene, original: Original, reporter: str, code: tuple[str, str, str]) -> str:
    """Free-text reports: Exim, qmail, Gmail layouts, with the original quoted inline."""
    rng = scene.rng
    _, reply, diag = code
    diagnostic = diag.format(r=original.recipient)
    when = bounce_date(scene, original)
    style = rng.choice(("exim", "qmail", "gmail"))
    quoted = original.headers if rng.random() < 0.6 else f"{original.headers}\n\n{original.body}"
    body = {
        "exim": f"This message was created automatically by mail delivery software.\n\nA message that you sent "
        f"could not be delivered to one or more of its\nrecipients. This is a permanent error. The following "
        f"address(es) failed:\n\n  {original.recipient}\n    host {reporter} [{scene.ip()}]\n    SMTP error "
        f"from remote mail server after RCPT TO:<{original.recipient}>:\n    {reply} {diagnostic}\n\n"
        f"------ This is a copy of the message's headers. ------\n\n{quoted}\n",
        "qmail": f"Hi. This is the qmail-send program at {reporter}.\nI'm afraid I wasn't able to deliver your "
        f"message to the following addresses.\nThis is a permanent error; I've given up. Sorry it didn't "
        f"work out.\n\n<{original.recipient}>:\nremote host said: {reply} {diagnostic}\n\n--- Below this "
        f"line is a copy of the message.\n\n{quoted}\n",
        "gmail": f"Delivery to the following recipient failed permanently:\n\n     {original.recipient}\n\nTechnical "
        f"details of permanent failure:\nThe recipient server did not accept our requests.\n"
        f"The error that the other server returned was:\n{reply} {diagnostic}\n\n----- Original message "
        f"-----\n\n{quoted}\n",
    }[style]
    subject = {
        "exim": "Mail delivery failed: returning message to sender",
        "qmail": "failure notice",
        "gmail": "Delivery Status Notification (Failure)",
    }[style]
    head = envelope_headers(
        scene, reporter, original.envelope_sender, when, auth_results(scene, reporter)
    ) + [
        f"From: {'Mail Delivery System <Mailer-Daemon@' + reporter + '>' if style != 'qmail' else 'MAILER-DAEMON@' + reporter}",
        f"To: {original.envelope_sender}",
        f"Subject: {subject}",
        f"Date: {when}",
        f"Message-ID: <{scene.message_id(reporter)}>",
        "Content-Type: text/plain; charset=us-ascii",
    ]
    if style == "exim":
        head.insert(4, f"X-Failed-Recipients: {original.recipient}")
    return "\n".join(head) + "\n\n" + body


#: Most real bounces today carry a DSN part (Postfix, Sendmail, Exchange, Gmail, Office 365).
LAYOUTS: tuple[Callable[[Scene, Original, str, tuple[str, str, str]], str], ...] = (dsn, dsn, text)

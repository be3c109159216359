"""Status codes and reasons: what a report says went wrong, in a small stable taxonomy.

The enhanced status code (RFC 3463, ``5.1.1``) is taken as the message states it; failing
that it is derived from the SMTP reply code (``552`` -> ``5.2.2``). The reason is read from
the diagnostic text first (MTAs put the real cause there, often behind a generic status) and
from the status code when the text says nothing recognisable.
"""

from __future__ import annotations

import re

USER_UNKNOWN = "user_unknown"
MAILBOX_FULL = "mailbox_full"
HOST_UNKNOWN = "host_unknown"
EXPIRED = "expired"
BLOCKED = "blocked"
POLICY = "policy"
MESSAGE_TOO_LARGE = "message_too_large"
SYNTAX_ERROR = "syntax_error"
OTHER = "other"

#: Every reason, in the order a report is documented with them.
REASONS = (
    USER_UNKNOWN,
    MAILBOX_FULL,
    HOST_UNKNOWN,
    EXPIRED,
    BLOCKED,
    POLICY,
    MESSAGE_TOO_LARGE,
    SYNTAX_ERROR,
    OTHER,
)

#: What a bounce says about the address itself (it does not exist, nor does its domain):
#: the reasons a list should stop mailing it for. The others (policy, blocked as spam,
#: mailbox full, too large...) say something about the sender or the moment.
RECIPIENT_SIDE = (USER_UNKNOWN, HOST_UNKNOWN)

_ENHANCED = re.compile(r"(?<![\w./-])([245])\.(\d{1,3})\.(\d{1,3})(?![\w-]|\.\d)")
_QMAIL_STYLE = re.compile(r"\(#([245])\.(\d{1,3})\.(\d{1,3})\b")
_REPLY = re.compile(r"(?<![\w.:/#\[=-])([245][0-5]\d)(?=[ \-:,]|$)", re.MULTILINE)

#: How far into a diagnostic its codes are looked for. A server states its code at the start
#: of its reply; the parser keeps 1,000 characters of a diagnostic anyway, and a bound keeps
#: the work per recipient constant when a report lists thousands of them on one line.
SCAN_LIMIT = 2000

# Reply codes whose meaning is specific enough to name a detail code (RFC 5321 4.2.2).
_REPLY_DETAIL = {"552": "2.2", "553": "1.3", "551": "1.1", "452": "2.2", "421": "4.2"}

# Provider reply codes and wordings whose meaning the words alone get wrong; tried before
# the general phrases. NetEase (163/126/yeah.net MX) codes are from NetEase's published SMTP
# error list (its help centre's "退信代码说明", mirrored at biecuoliao.com/pa/MBRrwEM.html and
# quoted whole in public code, e.g. NetEase-sending scripts' error tables); the reply also
# carries ".../help_spam_16.htm" even for a policy refusal, which the general table would
# read as spam, and "552 Illegal Attachment" would read as a full mailbox by its 552.
# Tencent (mx*.qq.com) wordings are from Sisimai's Sisimai::Rhost::Tencent
# (lib/Sisimai/Rhost/Tencent.pm, each citing its service.mail.qq.com/detail/122/N page).
_PROVIDER_PHRASES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        POLICY,
        (
            "mi:spf",  # NetEase 550: the sending IP is not permitted by the domain's SPF
            "mi:dma",  # NetEase 550: the message fails the sending domain's DMARC
            "mi:nhd",  # NetEase 550: empty HELO
            "mi:imf",  # NetEase 550: the sender address is malformed
            "dt:sum",  # NetEase 554: envelope sender and From differ
            "rp:frl",  # NetEase 550: no open relay
        ),
    ),
    (
        BLOCKED,
        (
            "dt:spm",  # NetEase 451/554: content or sending environment looks like spam
            "dt:rbl",  # NetEase 450: the sending IP is on an RBL
            "hl:rep",  # NetEase 421: many unknown recipients from this IP, suspended
            "hl:icc",  # NetEase 421: too many concurrent connections
            "hl:ifc",  # NetEase 421: too much mail from this IP in a short time
            "hl:mep",  # NetEase 421: many forged sender domains from this IP
            "hl:ihu",  # NetEase 554: the IP is suspended for spam or abnormal connections
            "hl:ipb",  # NetEase 554: the IP is not on NetEase's allowed list
            "wm:bli",  # NetEase 450: the IP is not on NetEase's allowed list
            "wm:blu",  # NetEase 450: the sender is not on NetEase's allowed list
            "mi:spb",  # NetEase 554: the sender is not on NetEase's allowed list
            "mi:sfq",  # NetEase 451: too many messages from this sender in 15 minutes
            "mi:stc",  # NetEase 550/554: the sender's daily limit is exceeded
            "mi:dmc",  # NetEase 450/451: too many messages in one connection
            "mi:cel",  # NetEase 450: too many erroneous commands
            "mi:ccl",  # NetEase 450: too many commands
            "rp:trc",  # NetEase 550: the sender's daily recipient limit is exceeded
            "rp:qrc",  # NetEase 451: too many recipients in a short time
            "rp:rcl",  # NetEase 550: too many recipients in one message
            "rp:drc",  # NetEase 450: too many recipients in one connection
            "rp:cel",  # NetEase 451: too many erroneous commands
            "rp:ccl",  # NetEase 450: too many commands
            "illegal attachment",  # NetEase 552: a refused attachment type (.scr, .vbs...)
            "sending quota exceeded",  # Coremail: the sender's own sending quota, not a full box
            # Tencent: 550 "Mailbox unavailable or access denied" is its frequency limit
            # (service.mail.qq.com/detail/122/166; Sisimai files it as "speeding"), not a
            # missing mailbox; Sisimai's table spells it "denined" too.
            "mailbox unavailable or access denied",
            "mailbox unavailable or access denined",
            "suspected bounce attacks",  # Tencent detail/122/57
            "frequency limited",  # Tencent detail/122/172-175: ip/domain/sender/connection
        ),
    ),
)

# Ordered: the first group with a matching phrase wins, so narrow causes come before broad
# ones ("recipient address rejected: user unknown" is an unknown user, not a block).
_REASON_PHRASES: tuple[tuple[str, tuple[str, ...]], ...] = (
    *_PROVIDER_PHRASES,
    (
        MAILBOX_FULL,
        (
            "mailbox full",
            "mailbox is full",
            "mailbox has exceeded",
            "over quota",
            "overquota",
            "quota exceeded",
            "exceeded storage",
            "exceeds storage",
            "insufficient storage",
            "mailbox size limit",
            "quota",
            "mailbox is out of storage",
            "full mailbox",
            "mailfolder is full",
            "too much mail",
            "storage allocation",
            "user is over",
            "mailbox exceeded",
            "box is full",
            "inbox is full",
            # de, fr, es, it, pt, pl, nl, ja, zh, ru
            "postfach voll",
            "postfach ist voll",
            "speicherplatz",
            "boîte pleine",
            "boîte aux lettres pleine",
            "boîte de réception est pleine",
            "buzón lleno",
            "buzón está lleno",
            "casella piena",
            "casella di posta piena",
            "caixa cheia",
            "caixa postal cheia",
            "skrzynka pełna",
            "skrzynka jest pełna",
            "mailbox vol",
            "postvak vol",
            "容量超過",
            "容量を超え",
            "メールボックスがいっぱい",
            "邮箱已满",
            "空间不足",  # QQ Mail notice: 收件人空间不足 (service.mail.qq.com bounce help)
            "空间已满",  # NetEase notice: 收件人邮箱空间已满
            "not enough space",  # Tencent Exmail: [MAILBOX_NOT_ENOUGH_SPACE] (issue 9)
            "space not enough",  # "mail box space not enough" (Alibaba Mail's bounce help)
            "信箱已滿",
            "ящик переполнен",
            "квота",
        ),
    ),
    (
        MESSAGE_TOO_LARGE,
        (
            "message too large",
            "message is too large",
            "message too big",
            "size limit",
            "exceeds size",
            "message size exceeds",
            "message length exceeds",
            "too large",
            "exceeded maximum message size",
            "message size limit",
            "message is too big",
        ),
    ),
    (
        HOST_UNKNOWN,
        (
            "host unknown",
            "unknown host",
            "host not found",
            "domain not found",
            "no such domain",
            "domain does not exist",
            "unrouteable mail domain",
            "name or service not known",
            "nxdomain",
            "no mx",
            "mx lookup",
            "couldn't find any host",
            "could not find any host",
            "domain name not found",
            "non-existent hosts",
            "host or domain name not found",
            "unknown domain",
            "domain is not valid",
            "no route to host",
            "domain couldn't be found",
            "host name lookup failure",
            "dns error",
            "domain lookup failed",
            "could not be resolved",
            "no valid mx",
            "domain isn't in my list",
            "domaine inexistant",
            "dominio inexistente",
            "域名不存在",
            "dns query error",  # Coremail's English for 域名不存在 (emailhost.com.cn list)
            "ドメインが存在しません",
        ),
    ),
    (
        USER_UNKNOWN,
        (
            "user unknown",
            "unknown user",
            "no such user",
            "does not exist",
            "doesn't exist",
            "user not found",
            "recipient not found",
            "unknown recipient",
            "invalid recipient",
            "no mailbox",
            "not a valid mailbox",
            "no such recipient",
            "mailbox not found",
            "unknown address",
            "invalid mailbox",
            "not a known user",
            "recipient name is not recognized",
            "address not found",
            "no such mailbox",
            "mailbox unavailable",
            "mailbox is unavailable",
            "unrouteable address",
            "account is disabled",
            "account has been disabled",
            "mailbox disabled",
            "user disabled",
            "account disabled",
            "no longer",
            "not our customer",
            "mailbox does not",
            "no account",
            "no such address",
            "recipient unknown",
            "unknown local",
            "not listed in",
            "invalid address",
            "address unknown",
            "user doesn't",
            "recipient rejected",
            "bad recipient",
            "no user",
            "not found in directory",
            "addressee unknown",
            "user invalid",
            "invalid user",  # NetEase 550 "Invalid User"; Coremail "invalid user"
            "mailbox inactive",
            "inactive account",
            "is not a valid",
            "unknown mailbox",
            "deactivated",
            "suspended",
            "not exist",
            "no such person",
            "no such local user",
            "undeliverable address",
            "unknown or illegal alias",
            "user is terminated",
            "couldn't be found",
            "could not be found",
            "wasn't found",
            # de, fr, es, it, pt, pl, nl, ja, zh, ru
            "unbekannt",
            "existiert nicht",
            "gibt es nicht",
            "utilisateur inconnu",
            "destinataire inconnu",
            "adresse inconnue",
            "n'existe pas",
            "usuario desconocido",
            "destinatario desconocido",
            "no existe",
            "utente sconosciuto",
            "destinatario sconosciuto",
            "non esiste",
            "usuário desconhecido",
            "utilizador desconhecido",
            "destinatário desconhecido",
            "não existe",
            "nieznany użytkownik",
            "nieznany odbiorca",
            "nie istnieje",
            "onbekende gebruiker",
            "onbekende ontvanger",
            "bestaat niet",
            "存在しません",
            "宛先不明",
            "ディレクトリのリストにありません",
            "ユーザが存在しない",
            "用户不存在",
            "收件人不存在",
            "未开通qq邮箱",  # QQ Mail notice: 该用户未开通QQ邮箱 (the address has no mailbox)
            "不存在",
            "неизвестный пользователь",
            "не существует",
            "нет такого пользователя",
        ),
    ),
    (
        POLICY,
        (
            "spf",
            "dkim",
            "dmarc",
            "unauthenticated",
            "authentication",
            "not authorized",
            "relay access denied",
            "relaying denied",
            "relay not permitted",
            "not permitted to relay",
            "relaying not allowed",
            "reverse dns",
            "ptr record",
            "rdns",
            "reverse lookup",
            "policy",
            "starttls",
            "tls required",
            "encryption",
            "sender address rejected",
            "sender verify failed",
            "not allowed to send",
            "we do not relay",
            "unable to relay",
            "ip name lookup",
            "authorization",
        ),
    ),
    (
        BLOCKED,
        (
            "spam",
            "blocked",
            "blacklist",
            "blocklist",
            "block list",
            "black list",
            "listed",
            "rbl",
            "dnsbl",
            "spamhaus",
            "reputation",
            "junk",
            "virus",
            "malware",
            "content rejected",
            "rejected",
            "refused",
            "denied",
            "not accepted",
            "banned",
            "suspicious",
            "too many connections",
            "rate limit",
            "rate-limit",
            "throttl",
            "try again later",
            "temporarily deferred",
            "filter",
            "unsolicited",
        ),
    ),
    (
        SYNTAX_ERROR,
        (
            "syntax error",
            "syntax",
            "bad address",
            "malformed",
            "illegal address",
            "not compliant",
            "rfc 5322",
            "rfc 2822",
            "rfc5322",
            "invalid header",
        ),
    ),
    (
        EXPIRED,
        (
            "expired",
            "timed out",
            "timeout",
            "retry time",
            "delivery time",
            "has been delayed",
            "not yet been delivered",
            "delayed",
            "will retry",
            "giving up",
            "too long",
            "could not be delivered within",
            "not delivered within",
            "not responding",
            "retry timeout",
            "delivery temporarily suspended",
            "deferred",
            "connection refused",
            "unable to connect",
            "could not connect",
        ),
    ),
)

_STATUS_REASONS: dict[str, str] = {
    "1.1": USER_UNKNOWN,
    "1.0": USER_UNKNOWN,
    "1.6": USER_UNKNOWN,
    "1.10": USER_UNKNOWN,
    "1.2": HOST_UNKNOWN,
    "1.8": POLICY,
    "1.7": POLICY,
    "1.3": SYNTAX_ERROR,
    "2.1": USER_UNKNOWN,
    "2.2": MAILBOX_FULL,
    "2.3": MESSAGE_TOO_LARGE,
    "3.4": MESSAGE_TOO_LARGE,
    "4.4": HOST_UNKNOWN,
    "4.7": EXPIRED,
    "4.1": EXPIRED,
    "4.2": EXPIRED,
    "5.2": SYNTAX_ERROR,
    "5.4": SYNTAX_ERROR,
    "6.0": SYNTAX_ERROR,
    "7.1": BLOCKED,
    "7.0": BLOCKED,
    "7.26": POLICY,
    "7.23": POLICY,
    "7.25": POLICY,
    "7.27": POLICY,
    "7.7": POLICY,
    "7.9": POLICY,
    "7.13": USER_UNKNOWN,
    "7.20": POLICY,
    "7.21": POLICY,
    "7.22": POLICY,
    "7.24": POLICY,
    "7.28": BLOCKED,
}


def enhanced_status(text: str) -> str | None:
    """The first RFC 3463 code in text (in its first SCAN_LIMIT characters); qmail's
    ``(#5.1.1)`` form is preferred when present."""
    if not text:
        return None
    text = text[:SCAN_LIMIT]
    match = _QMAIL_STYLE.search(text) if "(#" in text else None
    match = match or _first_enhanced(text)
    return ".".join(match.groups()) if match else None


def _first_enhanced(text: str) -> re.Match[str] | None:
    """``_ENHANCED.search`` tried only where a class digit stands before a dot: str.find
    skips the rest in C, several times faster on long diagnostics than a regex scan."""
    position = text.find(".", 1)
    while position != -1:
        if text[position - 1] in "245":
            match = _ENHANCED.match(text, position - 1)  # the lookbehind still sees before
            if match:
                return match
        position = text.find(".", position + 1)
    return None


def reply_code(text: str) -> str | None:
    """The first failure reply code (``550``) in a diagnostic, else the first success one.

    A failure diagnostic quotes the whole SMTP dialogue at times ("after MAIL FROM:<a> SIZE=222:
    ... 550 ..."): a 2xx number before the refusal is not what the server refused with."""
    if not text:
        return None
    first = None
    text = text[:SCAN_LIMIT]
    for match in _REPLY.finditer(text):
        if text[match.end() : match.end() + 6].lower() in (" bytes", " byte"):
            continue  # a size ("Size: 412 bytes"), not a reply
        if match.group(1)[0] != "2":
            return match.group(1)
        first = first or match.group(1)
    return first


def status_from_reply(code: str | None) -> str | None:
    """The enhanced code an SMTP reply implies: ``552`` -> ``5.2.2``, ``550`` -> ``5.0.0``."""
    if not code:
        return None
    return f"{code[0]}.{_REPLY_DETAIL.get(code, '0.0')}"


def is_generic(status: str | None) -> bool:
    """True for codes that say only permanent/temporary (``5.0.0``, ``4.0.0``)."""
    return status is None or status.endswith(".0.0")


def classify_reason(diagnostic: str | None, status: str | None, action: str | None = None) -> str:
    """The taxonomy reason for one failed recipient."""
    text = (diagnostic or "")[:SCAN_LIMIT].lower()
    if action == "delayed":
        return EXPIRED
    if text:
        for reason, phrases in _REASON_PHRASES:
            for phrase in phrases:  # (a plain loop: any() over a generator costs twice this)
                if phrase in text:
                    return reason
    if status:
        subject_detail = status.split(".", 1)[1] if "." in status else ""
        reason = _STATUS_REASONS.get(subject_detail)
        if reason:
            return reason
    return OTHER


def is_hard(
    status: str | None,
    action: str | None = None,
    reply: str | None = None,
    reason: str | None = None,
) -> bool:
    """Permanent failures (5.x.x, or a 5xx reply with no enhanced code) are hard bounces.

    With no code at all, a failed report is hard unless it gave up on a silent host
    (``expired``): that says nothing permanent about the address."""
    if action == "delayed":
        return False
    if status:
        return status.startswith("5")
    if reply:
        return reply.startswith("5")
    return action == "failed" and reason != EXPIRED

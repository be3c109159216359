"""Chinese and Russian providers: their own notices, and their MX replies in others' reports.

NetEase (163/126/yeah.net) and Tencent (QQ Mail, Foxmail, Exmail) send their users a labelled
notice of their own, often HTML only; Sina a multipart notice with Chinese text; mail.ru
writes Exim's report under a Russian preamble and Yandex a Postfix DSN. Their MX replies
carry provider codes (NetEase ``DT:SPM``, ``RP:TRC``, ``MI:DMA``...; Tencent's wordings)
whose reasons mail/status.py maps: the ``*_rhost_*`` fixtures are our own Postfix's DSNs
quoting them.
"""

from __future__ import annotations

import pytest

from backscatter import parse
from backscatter.mail import status
from tests.conftest import parse_fixture
from tests.mail import ANATOMY, check_added_modules, check_anatomy

# fixture, format, [(address, status, reason, hard)], original Message-ID
BOUNCES = [
    # NetEase 163.com: Coremail HTML-only notice (GB2312), original attached
    (
        "netease_163_user_not_found.eml",
        "netease",
        [("bruno@receiver.example", "5.0.0", "user_unknown", True)],
        "quote-0612.liwei@163.example",
    ),
    # NetEase 126.com: newer bilingual text+HTML notice, original headers attached
    (
        "netease_126_quota_exceeded.eml",
        "netease",
        [("carla@full.example", "5.2.2", "mailbox_full", True)],
        "statement-0613.zhaomin@126.example",
    ),
    # NetEase MX replies in our Postfix's DSN: the codes decide, not the spam help URL
    (
        "netease_rhost_provider_codes.eml",
        "rfc3464",
        [
            ("wang.fang@163.example", "5.0.0", "blocked", True),  # 554 DT:SPM
            ("chen.jie@126.example", "5.0.0", "blocked", True),  # 550 RP:TRC
            ("liu.yang@yeah.example", "5.0.0", "policy", True),  # 550 MI:DMA
        ],
        "newsletter-0614@sender.example",
    ),
    # QQ Mail's own notice, plain text, Postfix-style detail: the generic reader reads it
    # fully (the labelled layout is NetEase's too, but QQ writes the remote reply in full)
    (
        "qq_user_not_found.eml",
        "generic",
        [("dario@receiver.example", "5.1.1", "user_unknown", True)],
        "tencent_minutes0616@qq.example",
    ),
    # QQ Mail's own notice, HTML only (null sender, from the daemon address): generic
    (
        "qq_mailbox_full_html.eml",
        "generic",
        [("ewa@full.example", "5.2.2", "mailbox_full", True)],
        "tencent_photos0617@qq.example",
    ),
    # Tencent MX replies in our Postfix's DSN
    (
        "tencent_rhost_access_denied.eml",
        "rfc3464",
        [
            ("12345678@qq.example", "5.0.0", "blocked", True),  # frequency limit, not unknown
            ("sales@exmail-customer.example", "5.2.2", "mailbox_full", True),
        ],
        "order-0615@sender.example",
    ),
    # Sina: From MAILER-DAEMON@sina.com, the failed address at a line start in the first
    # text part (flufl.bounce's Sina detector), Chinese around it: the generic reader
    (
        "sina_user_unknown.eml",
        "generic",
        [("fiona@receiver.example", "5.1.1", "user_unknown", True)],
        "party-0618.gaoyan@sina.example",
    ),
    # mail.ru: Exim under a Russian preamble and Russian subject, Sisimai's MailRu wordings
    (
        "mailru_quota_and_retry_timeout.eml",
        "exim",
        [
            ("natasha@mail.ru.example", None, "mailbox_full", True),
            ("pavel@slow.example", None, "expired", False),
        ],
        "1749456118.123456789@f301.i.mail.ru.example",
    ),
    # Yandex: Postfix DSN, a full mailbox and a host that timed out
    (
        "yandex_dsn_full_and_timeout.eml",
        "rfc3464",
        [
            ("zoya@full.example", "5.2.2", "mailbox_full", True),
            ("timur@slow.example", "4.4.1", "expired", False),
        ],
        "plans-0607.gleb@yandex.example",
    ),
]

#: Modules this work added; each must be proven by a fixture above.
ADDED_MODULES = ("netease",)


@pytest.mark.parametrize(ANATOMY, BOUNCES)
def test_bounce_anatomy(name, family, recipients, message_id):
    check_anatomy(parse_fixture(f"formats/{name}"), family, recipients, message_id)


def test_every_added_module_has_a_fixture():
    check_added_modules(ADDED_MODULES, BOUNCES)


@pytest.mark.parametrize(
    ("diagnostic", "reason"),
    [
        # NetEase MX (help.163.com error list)
        ("451 MI:SFQ 163 mx12,QMCowA--.1S2 1749870900,please see http://mail.163.com/", "blocked"),
        ("450 DT:RBL 163 mx12, http://mail.163.com/help/help_spam_16.htm", "blocked"),
        ("554 HL:IPB 163 mx12, http://mail.163.com/help/help_spam_16.htm", "blocked"),
        ("550 MI:SPF 163 mx12, http://mail.163.com/help/help_spam_16.htm", "policy"),
        ("554 DT:SUM 163 smtp5, http://mail.163.com/help/help_spam_16.htm", "policy"),
        ("550 User not found: someone@163.example", "user_unknown"),
        ("550 Invalid User", "user_unknown"),
        ("552 Illegal Attachment", "blocked"),
        ("552 Requested mail action aborted: exceeded mailsize limit", "message_too_large"),
        # Coremail's English reasons in its notices
        ("sending quota exceeded", "blocked"),
        ("DNS query error", "host_unknown"),
        ("user not exist", "user_unknown"),
        # Tencent MX (Sisimai::Rhost::Tencent, service.mail.qq.com/detail/122/N)
        ("550 Mailbox not found.", "user_unknown"),
        ("550 Mailbox unavailable or access denied", "blocked"),
        ("550 Ip frequency limited", "blocked"),
        ("550 Suspected bounce attacks", "blocked"),
        ("550 DMARC check failed", "policy"),
        ("552 [MAILBOX_NOT_ENOUGH_SPACE] Mailbox not enough space", "mailbox_full"),
        ("该用户未开通QQ邮箱", "user_unknown"),
        ("收件人空间不足", "mailbox_full"),
        # Alibaba Mail (aliyun) wordings from its bounce help
        ("552 mail box space not enough", "mailbox_full"),
        ("Quota exceed the hard limit for user", "mailbox_full"),
        ("550 Mail content denied", "blocked"),
        # mail.ru and Yandex MX
        ("550 Message was not accepted -- invalid mailbox. user not found", "user_unknown"),
        ("554 5.7.1 Message rejected under suspicion of SPAM", "blocked"),
        ("550 5.7.1 No such user!", "user_unknown"),
    ],
)
def test_provider_reasons(diagnostic, reason):
    assert status.classify_reason(diagnostic, None) == reason


def test_notice_html_from_a_stranger_is_not_read_as_netease():
    """The layout alone is not enough: phishing copies a notice's look, not its sender."""
    raw = (
        "From: Mail Center <notice@phish.example>\nTo: li@163.example\n"
        "Subject: 系统退信\nMIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\n\n"
        "<h1>抱歉\uff0c您的邮件被退回来了</h1><table><tr><th>收件人\uff1a</th>"
        "<td>bruno@receiver.example</td></tr><tr><th>退信原因\uff1a</th>"
        "<td>英文说明:550 User not found</td></tr></table>"
    ).encode()
    bounce = parse(raw, "phish.eml")
    assert bounce.format != "netease"
    assert not bounce.is_bounce


def test_notice_html_needs_a_null_sender_or_the_original():
    """Postmaster@163.com in From is forgeable too: HTML needs the envelope or the copy."""
    raw = (
        "From: Postmaster <Postmaster@163.com>\nTo: li@163.example\n"
        "Subject: 系统退信\nMIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\n\n"
        "<table><tr><th>收件人\uff1a</th><td>bruno@receiver.example</td></tr>"
        "<tr><th>退信原因\uff1a</th><td>英文说明:550 User not found</td></tr></table>"
    ).encode()
    assert parse(raw, "forged.eml").format != "netease"
    with_envelope = parse(b"Return-Path: <>\n" + raw, "real.eml")
    assert with_envelope.format == "netease"
    assert [(r.address, r.reason) for r in with_envelope.recipients] == [
        ("bruno@receiver.example", "user_unknown")
    ]

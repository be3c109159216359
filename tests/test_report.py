"""``backscatter report``: counts from real verdicts, escaping of what mail says, and the page
as a real browser renders it (headless Chromium, skipped with the reason when absent)."""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from backscatter import Detector, iter_messages
from backscatter.report import Context, ReportData, render
from backscatter.report.data import timeline
from backscatter.sentlog import SentRecipient, SqliteSentLog
from tests.conftest import DATA
from tests.test_cli import run

EXAMPLES = DATA.parent.parent / "data" / "examples" / "bounces.mbox"
BOUNCED_AT = datetime(2025, 6, 2, 10, 0, tzinfo=UTC)
HOSTILE_SUBJECT = '<script>alert(1)</script> & "quoted"'
HOSTILE_ADDRESS = '"<script>alert(2)</script>"@far.example'


def qmail_bounce(recipient: str, message_id: str, when: datetime | None) -> bytes:
    """A qmail failure notice (qmail-send's wording, qmail-1.03 qsutil/qmail-send.c) for a
    message ann@sender.example sent; ``when`` None leaves the Date out."""
    stamp = f"Date: {when:%a, %d %b %Y %H:%M:%S +0000}\n" if when else ""
    return (
        "Return-Path: <>\n"
        "From: MAILER-DAEMON@mx.far.example\n"
        "To: ann@sender.example\n"
        "Subject: failure notice\n"
        f"{stamp}"
        f"Message-ID: <bounce-{message_id}>\n\n"
        "Hi. This is the qmail-send program at mx.far.example.\n"
        "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
        "This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
        f"<{recipient}>:\nSorry, no mailbox here by that name. (#5.1.1)\n\n"
        "--- Below this line is a copy of the message.\n\n"
        "Return-Path: <ann@sender.example>\n"
        f"Message-ID: <{message_id}>\n"
        "From: ann@sender.example\n"
        f"To: {recipient}\n"
        "Subject: our June letter\n\n"
        "Hello.\n"
    ).encode()


def mbox(messages: list[bytes]) -> bytes:
    return b"".join(b"From MAILER-DAEMON Mon Jun  2 10:00:00 2025\n" + m + b"\n" for m in messages)


@pytest.fixture(scope="module")
def mailbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two bounces of mail we sent, one of mail we never sent (backscatter), and a fake NDR
    with a hostile Subject."""
    fake = (DATA / "formats" / "fake_ndr_html_quarantine.eml").read_bytes()
    start = fake.index(b"\nSubject:") + 1
    end = fake.index(b"\n", start)
    fake = fake[:start] + b"Subject: " + HOSTILE_SUBJECT.encode() + fake[end:]
    path = tmp_path_factory.mktemp("mail") / "bounces.mbox"
    path.write_bytes(
        mbox(
            [
                qmail_bounce("kim@far.example", "sent-1@sender.example", BOUNCED_AT),
                qmail_bounce(HOSTILE_ADDRESS, "sent-2@sender.example", BOUNCED_AT),
                qmail_bounce("lee@far.example", "forged-1@sender.example", BOUNCED_AT),
                fake,
            ]
        )
    )
    return path


@pytest.fixture(scope="module")
def sent_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What we sent: the two genuine originals, and other mail spanning the bounces' dates
    (so the log's silence about forged-1 is evidence)."""
    path = tmp_path_factory.mktemp("log") / "sent.db"
    sent = BOUNCED_AT - timedelta(hours=1)
    rows = [
        SentRecipient("sent-1@sender.example", sent, "ann@sender.example", "kim@far.example"),
        SentRecipient("sent-2@sender.example", sent, "ann@sender.example", HOSTILE_ADDRESS),
    ]
    start = BOUNCED_AT - timedelta(days=20)
    rows += [
        SentRecipient(
            f"news-{n}@sender.example",
            start + timedelta(hours=6 * n),
            "news@sender.example",
            f"reader{n}@elsewhere.example",
        )
        for n in range(100)
    ]
    with SqliteSentLog(path) as store:
        store.add(rows)
    return path


def collected(paths: list[Path], sent_log: Path | None = None, cap: int = 100) -> ReportData:
    detector = Detector.load(sent_log=sent_log)
    data = ReportData(sent_log=sent_log is not None, cap=cap)
    messages = [m for m in iter_messages([str(p) for p in paths])]
    for verdict in detector.score_many(messages):
        data.add(verdict)
    detector.close()
    return data


def test_the_bundled_example_is_counted_by_verdict_reason_and_address():
    data = collected([EXAMPLES])
    assert data.verdicts == Counter(genuine=6, spoofed=2, not_bounce=1)
    assert data.reasons == Counter(
        {
            ("unknown user", True): 2,
            ("mailbox full", True): 1,
            ("unknown domain", True): 1,
            ("expired", False): 2,  # a delay is soft: never suppressed
        }
    )
    # erin@full.example's mailbox is full: hard, but about the moment, not the address
    # (the suppressions command's default reasons), so it is not on the list
    assert data.suppress.seen == {
        "nobody@receiver.example",
        "grace@no-such-domain.example",
        "kim@corp.example",
    }
    assert data.held_back_only().total == 0
    assert data.spoofed_subjects.most_common(1)[0][1] == 1
    assert sum(data.undated.values()) == 0 and sum(data.days.values()) == 8
    assert data.hard_domains["full.example"] == 1 and data.domains["slow.example"] == 1


def test_a_sent_log_moves_backscatter_recipients_from_suppress_to_held_back(mailbox, sent_log):
    without = collected([mailbox])
    assert without.verdicts == Counter(genuine=3, spoofed=1)
    assert "lee@far.example" in without.suppress.seen  # the backscatter looks genuine

    data = collected([mailbox], sent_log)
    assert data.verdicts == Counter(genuine=2, spoofed=2)
    assert data.suppress.seen == {"kim@far.example", HOSTILE_ADDRESS}
    held = data.held_back_only()
    assert held.seen == {"lee@far.example"}
    assert held.shown["lee@far.example"].verdict == "spoofed"
    assert held.shown["lee@far.example"].reason == "unknown user"
    # reasons and domains count genuine bounces only; MTAs count every bounce
    assert data.reasons == Counter({("unknown user", True): 2})
    assert data.domains == Counter({"far.example": 2})
    assert data.mtas["mx.far.example"] == 3 and data.spoofed_mtas["mx.far.example"] == 1
    assert data.coverage == Counter(covered=4)  # every bounce falls in the log's span


def test_undated_and_impossibly_dated_bounces_are_counted_apart(tmp_path):
    path = tmp_path / "dates.mbox"
    path.write_bytes(
        mbox(
            [
                qmail_bounce("a@far.example", "m1@sender.example", None),
                qmail_bounce("b@far.example", "m2@sender.example", datetime(9999, 1, 1)),
                qmail_bounce("c@far.example", "m3@sender.example", BOUNCED_AT),
            ]
        )
    )
    data = collected([path])
    assert data.undated == Counter(genuine=2)
    assert data.days == Counter({(BOUNCED_AT.date(), "genuine"): 1})


def test_timeline_picks_days_weeks_or_months_and_keeps_every_bounce():
    first = date(2025, 1, 6)  # a Monday
    for span, unit, periods in ((10, "day", 11), (200, "week", 29), (1900, "month", 63)):
        days = Counter({(first, "genuine"): 3, (first + timedelta(days=span), "spoofed"): 1})
        line = timeline(days)
        assert line is not None and line.unit == unit and len(line.starts) == periods
        assert sum(line.counts["genuine"]) == 3 and sum(line.counts["spoofed"]) == 1
        assert line.spoofed_share()[0] == 0.0 and line.spoofed_share()[-1] == 1.0
    assert timeline(Counter()) is None


class _Page(HTMLParser):
    """The tags, attributes and text of a page, as a browser's tokenizer sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def page_of(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


@pytest.fixture(scope="module")
def report(mailbox: Path, sent_log: Path) -> tuple[Path, str]:
    """The page ``backscatter report --sent-log`` writes for the mailbox, and its stderr
    (made once: the CLI and the browser tests read the same file)."""
    out = mailbox.parent / "report.html"
    result = run("report", "--sent-log", str(sent_log), str(mailbox), "-o", str(out))
    assert result.returncode == 0, result.stderr
    return out, result.stderr


def test_the_cli_writes_one_self_contained_page_with_mail_text_escaped(report):
    out, stderr = report
    assert "2 addresses to suppress, 1 held back" in stderr
    html = out.read_text(encoding="utf-8")
    page = page_of(html)
    tags = [tag for tag, _ in page.tags]
    assert "script" not in tags and "link" not in tags  # no JavaScript, no outside CSS
    images = [attrs["src"] or "" for tag, attrs in page.tags if tag == "img"]
    assert len(images) == 4 and all(s.startswith("data:image/png;base64,") for s in images)
    text = "".join(page.text)
    assert HOSTILE_SUBJECT in text and HOSTILE_ADDRESS in text  # shown as text, not markup
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quoted&quot;" in html
    assert "No sent-log was given" not in text


def test_without_a_sent_log_the_page_warns_that_backscatter_is_undetectable(mailbox, tmp_path):
    out = tmp_path / "report.html"
    result = run("report", str(mailbox), "-o", str(out))
    assert result.returncode == 0, result.stderr
    text = "".join(page_of(out.read_text(encoding="utf-8")).text)
    assert "No sent-log was given: backscatter cannot be detected." in text
    assert "the 3 addresses to suppress may include addresses a forger used" in text


def test_address_tables_are_capped_with_a_count_of_the_rest():
    data = collected([EXAMPLES], cap=1)
    assert len(data.suppress.shown) == 1 and data.suppress.total == 3
    text = "".join(page_of(render(data, Context(inputs=("x.mbox",)))).text)
    assert "… and 2 more addresses." in text


def test_nothing_read_still_makes_a_page_that_says_so():
    data = ReportData(sent_log=True)
    page = page_of(render(data, Context(inputs=("empty.mbox",), sent_log="sent.db")))
    assert not [tag for tag, _ in page.tags if tag == "img"]  # no chart of nothing
    text = "".join(page.text)
    assert "No dated bounces." in text and "No failed recipients in genuine bounces." in text


def test_bidi_overrides_and_control_characters_are_made_visible():
    page = render(ReportData(sent_log=False), Context(inputs=("in\u202egpj.mbox\x1b[2J",)))
    assert "\u202e" not in page and "\x1b" not in page
    assert "in\ufffdgpj.mbox\ufffd[2J" in page


def test_user_errors_are_one_line(tmp_path):
    result = run("report", str(EXAMPLES), "-o", str(tmp_path / "missing" / "r.html"))
    assert result.returncode == 2
    assert (
        result.stderr.startswith("backscatter: cannot write") and "Traceback" not in result.stderr
    )
    unreadable = run("report", str(tmp_path / "nope.mbox"), "-o", str(tmp_path / "r.html"))
    assert unreadable.returncode == 1 and "cannot read" in unreadable.stderr


def _chromium() -> tuple[str, str] | None:
    browser = next(
        (p for n in ("chromium", "chromium-browser", "google-chrome") if (p := shutil.which(n))),
        None,
    )
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


HEADINGS = [
    "Verdicts",
    "Hard and soft bounces by reason",
    "Top failing recipient domains",
    "Top reporting MTAs",
    "Bounces and spoofed share over time",
    "Addresses to suppress",
    "Held back: named only by spoofed or unknown bounces",
]


def test_the_page_renders_in_headless_chromium(report, tmp_path):
    found = _chromium()
    if found is None:
        pytest.skip("chromium and chromedriver not installed (scripts/get_chromium.sh)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium (dev extra) missing")
    out, _ = report
    options = webdriver.ChromeOptions()
    options.binary_location = found[0]
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1200,900",
    ):
        options.add_argument(argument)  # --no-sandbox: Chromium refuses to run as root without
    # The page's own scripts are off (it must read without any); WebDriver's probes still run.
    options.add_experimental_option(
        "prefs", {"profile.managed_default_content_settings.javascript": 2}
    )
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(found[1]))
    try:
        driver.get(out.as_uri())
        assert driver.title == "Bounce report"
        h1 = driver.find_element("tag name", "h1").text
        headings = [h.text for h in driver.find_elements("tag name", "h2")]
        assert h1 == "Bounce report" and headings == HEADINGS
        images = driver.execute_script(
            "return Array.from(document.images, i => [i.complete, i.naturalWidth, i.alt]);"
        )
        assert len(images) == 4
        assert all(complete and width > 0 for complete, width, _ in images), images
        rows = driver.execute_script(
            "return Array.from(document.querySelectorAll('table'), t => t.tBodies[0].rows.length);"
        )
        assert len(rows) >= 7 and all(n > 0 for n in rows)
        banner = driver.find_elements("css selector", ".banner.warning")
        assert banner == []  # a sent-log was given
        cells = [c.text for c in driver.find_elements("css selector", "table.addresses td")]
        assert HOSTILE_ADDRESS in cells  # shown as the text it is
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1200, min(height + 100, 16000))
        shot = tmp_path / "report.png"
        assert driver.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000
    finally:
        driver.quit()

"""Features, the safe model format, and the Detector on hand-written fixtures."""

from __future__ import annotations

import pickle
import zipfile

import numpy as np
import pytest

from backscatter.detector import Detector
from backscatter.errors import BackscatterError
from backscatter.features import CATALOG, BounceFeatures, collect
from backscatter.mail.parser import analyse
from backscatter.model.fast import LinearScorer
from backscatter.model.persist import load, save, shipped_model_path
from tests.conftest import DATA


def evidence(name: str):
    return collect(*analyse((DATA / "formats" / name).read_bytes(), name))


def test_every_feature_is_named_and_documented():
    names = list(BounceFeatures().get_feature_names_out())
    assert names == [f.name for f in CATALOG]
    assert len(set(names)) == len(names)
    assert all(len(f.why) > 20 for f in CATALOG)


def test_transform_gives_one_finite_row_per_message():
    rows = (
        BounceFeatures()
        .fit([])
        .transform(
            [evidence("postfix_dsn_user_unknown.eml"), evidence("fake_ndr_html_quarantine.eml")]
        )
    )
    assert rows.shape == (2, len(CATALOG))
    assert np.isfinite(rows).all()
    names = list(BounceFeatures().get_feature_names_out())
    assert rows[0, names.index("has_dsn_part")] == 1.0
    assert rows[1, names.index("claims_without_report")] == 1.0
    assert rows[1, names.index("html_only")] == 1.0


def test_an_expired_exchange_report_is_consistent_and_lure_free():
    # Exchange writes "550 4.4.7" with Action: failed: reply and status disagree in real
    # reports, so only impossible action/status pairs may count against a report.
    row = BounceFeatures().transform([evidence("exchange_dsn_expired.eml")])[0]
    names = list(BounceFeatures().get_feature_names_out())
    assert row[names.index("status_consistent")] == 1.0
    assert row[names.index("lures")] == 0.0  # "expired" is what bounces say, not a lure


def test_a_delay_warning_with_a_permanent_status_contradicts_itself():
    raw = (DATA / "formats" / "exchange_dsn_expired.eml").read_bytes()
    forged = raw.replace(b"Action: failed\nStatus: 4.4.7", b"Action: delayed\nStatus: 5.4.7")
    row = BounceFeatures().transform([collect(*analyse(forged, "forged.eml"))])[0]
    assert row[list(BounceFeatures().get_feature_names_out()).index("status_consistent")] == -1.0


def test_no_sent_log_means_no_sent_log_evidence():
    row = BounceFeatures().transform([evidence("exim_mailbox_full.eml")])[0]
    names = list(BounceFeatures().get_feature_names_out())
    for name in ("sentlog_given", "sent_message_id", "sent_recipient", "sent_unmatched"):
        assert row[names.index(name)] == 0.0


def test_the_shipped_model_loads_and_round_trips(tmp_path):
    model = load(shipped_model_path())
    target = tmp_path / "copy.skops"
    save(model, target)
    again = load(target)
    sample = [evidence("qmail_host_unknown.eml")]
    assert again.predict_proba(sample)[0, 1] == pytest.approx(model.predict_proba(sample)[0, 1])


def test_a_pickle_is_refused(tmp_path):
    rogue = tmp_path / "model.skops"
    rogue.write_bytes(pickle.dumps({"not": "a model"}))
    with pytest.raises(BackscatterError, match="not a backscatter model"):
        load(rogue)


def test_a_model_naming_a_forbidden_type_is_refused(tmp_path):
    shipped = shipped_model_path()
    rogue = tmp_path / "rogue.skops"
    with zipfile.ZipFile(shipped) as source, zipfile.ZipFile(rogue, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "schema.json":
                data = data.replace(b'"__class__": "StandardScaler"', b'"__class__": "system"', 1)
                data = data.replace(
                    b'"__module__": "sklearn.preprocessing._data"', b'"__module__": "os"', 1
                )
            target.writestr(item, data)
    with pytest.raises(BackscatterError, match=r"types not allowed: .*os\.system"):
        load(rogue)


def test_missing_model_is_one_clear_error(tmp_path):
    with pytest.raises(BackscatterError, match="no model file at"):
        load(tmp_path / "nope.skops")


@pytest.fixture(scope="module")
def detector():
    return Detector.load()


def test_verdicts_on_fixtures(detector):
    def verdict(name):
        return detector.score((DATA / "formats" / name).read_bytes(), name)

    assert verdict("not_bounce_auto_reply.eml").verdict == "not_bounce"
    assert verdict("not_bounce_arf_complaint.eml").verdict == "not_bounce"
    phishing = verdict("fake_ndr_html_quarantine.eml")
    assert phishing.verdict == "spoofed" and phishing.spoofed_probability > 0.9
    assert phishing.evidence  # the facts behind the verdict, in words
    assert verdict("postfix_dsn_user_unknown.eml").verdict == "genuine"
    assert verdict("exchange_dsn_expired.eml").verdict == "genuine"


def test_verdict_record_has_parse_fields_and_verdict(detector):
    record = detector.score(
        (DATA / "formats" / "qmail_host_unknown.eml").read_bytes(), "q.eml"
    ).to_record()
    assert {
        "source",
        "is_bounce",
        "recipients",
        "verdict",
        "spoofed_probability",
        "evidence",
    } <= set(record)
    assert 0.0 <= record["spoofed_probability"] <= 1.0


def test_the_fast_path_gives_the_pipelines_own_probabilities():
    model = load(shipped_model_path())
    scorer = LinearScorer(model)
    assert scorer.coef_ is not None  # the shipped model has the shape the fast path reads
    rows = BounceFeatures().transform(
        [evidence(p.name) for p in sorted((DATA / "formats").glob("*.eml"))]
    )
    rows = np.vstack([rows, np.random.default_rng(0).normal(size=(500, rows.shape[1])) * 3])
    expected = model.named_steps["classifier"].predict_proba(
        model.named_steps["scale"].transform(rows)
    )[:, 1]
    assert np.allclose(scorer.probabilities(scorer.scale(rows)), expected, rtol=0, atol=1e-12)


def test_a_model_of_another_feature_set_is_refused_with_the_way_out(tmp_path):
    model = load(shipped_model_path())
    step = model.named_steps["features"]
    step.feature_names_ = [f.name for f in CATALOG][:-1]  # as if trained before the last one
    older = tmp_path / "older.skops"
    save(model, older)
    with pytest.raises(BackscatterError, match=rf"trained on {len(CATALOG) - 1} features.*retrain"):
        load(older)


def test_an_unknown_layout_without_any_sign_of_forgery_is_unknown_not_spoofed(detector):
    # A null-sender report from a mail system, in a layout no reader knows and with no
    # recipient stated: nothing in it is a sign of forgery, so it is never 'spoofed'.
    message = (
        b"Return-Path: <>\nFrom: Mail Delivery Subsystem <MAILER-DAEMON@mx.partner.example>\n"
        b"To: ann@sender.example\nSubject: Undeliverable mail\n"
        b"Date: Mon, 2 Jun 2025 10:00:00 +0000\nMessage-ID: <u1@mx.partner.example>\n"
        b"Content-Type: text/plain\n\nYour mail could not be handed on. Reference 8812.\n"
    )
    verdict = detector.score(message, "unknown-layout.eml")
    assert verdict.verdict in ("unknown", "genuine")
    assert verdict.spoofed_probability < 0.5
    if verdict.verdict == "unknown":
        assert "could not be read" in verdict.evidence[0]


def test_a_fake_ndr_whose_link_stays_on_its_own_domain_is_still_spoofed(detector):
    message = (
        b"Return-Path: <>\nFrom: Mail Delivery System <delivery@notice.example>\n"
        b"To: ann@sender.example\nSubject: 4 undelivered messages pending\n"
        b"Date: Mon, 2 Jun 2025 10:00:00 +0000\nMessage-ID: <p1@notice.example>\n"
        b"Content-Type: text/plain\n\n4 incoming messages are held for ann@sender.example.\n"
        b"Release them here: https://notice.example/release?u=ann\n"
    )
    verdict = detector.score(message, "fake.eml")
    assert verdict.verdict == "spoofed"
    assert any("release, verify or log in" in e for e in verdict.evidence)

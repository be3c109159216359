"""Building the milter's shared state from command-line options, with user errors said plainly."""

from __future__ import annotations

import logging
from pathlib import Path

from backscatter.detector import Detector
from backscatter.filters.outbound import OutboundRecorder
from backscatter.filters.policy import load_policy
from backscatter.filters.session import MilterCore
from backscatter.sentlog import open_sent_log

log = logging.getLogger("backscatter.milter")


def build_core(
    model: Path | None,
    sent_log: str | Path | None,
    config: Path | None,
    threshold: float,
    spoofed_action: str | None = None,
    on_error: str | None = None,
) -> MilterCore:
    """The recorder writes the sent-log through its own connection, opened first so that the
    file (or the PostgreSQL schema) exists; the Detector reads through a read-only one
    (SQLite WAL: readers never wait for the writer)."""
    policy = load_policy(config).with_options(spoofed_action, on_error)
    writer = open_sent_log(sent_log, readonly=False) if sent_log is not None else None
    detector = Detector.load(model, sent_log, config, threshold)
    if writer is None:
        log.warning(
            "no --sent-log: outbound mail is not recorded and bounces are judged without one"
        )
    if policy.batv_sign and not detector.config.batv_secrets:
        log.warning("batv_sign is set but no batv_secrets")
    return MilterCore(detector, policy, OutboundRecorder(writer, detector.config, policy.batv_sign))

"""Building the milter's shared state from command-line options, with user errors said plainly."""

from __future__ import annotations

import logging
from pathlib import Path

from backscatter.detector import Detector
from backscatter.features import load_config
from backscatter.filters.outbound import OutboundRecorder
from backscatter.filters.policy import load_policy
from backscatter.filters.session import MilterCore
from backscatter.model.persist import load, shipped_model_path
from backscatter.sentlog import SqliteSentLog


def build_core(
    model: Path | None,
    sent_log: Path | None,
    config: Path | None,
    threshold: float,
    spoofed_action: str | None = None,
    on_error: str | None = None,
) -> MilterCore:
    """The Detector reads the sent-log through its own read-only connection; the recorder
    writes through another (SQLite WAL: readers never wait for the writer)."""
    ours = load_config(config)
    policy = load_policy(config).with_options(spoofed_action, on_error)
    writer = SqliteSentLog(sent_log) if sent_log is not None else None
    reader = SqliteSentLog(sent_log, readonly=True) if sent_log is not None else None
    detector = Detector(load(model or shipped_model_path()), reader, ours, threshold)
    if writer is None:
        logging.getLogger("backscatter.milter").warning(
            "no --sent-log: outbound mail is not recorded and bounces are judged without one"
        )
    if policy.batv_sign and not ours.batv_secrets:
        logging.getLogger("backscatter.milter").warning("batv_sign is set but no batv_secrets")
    return MilterCore(detector, policy, OutboundRecorder(writer, ours, policy.batv_sign))

"""The milter's policy file: per-verdict actions, thresholds, what counts as outbound."""

from __future__ import annotations

import subprocess
import sys

import pytest

from backscatter.errors import BackscatterError
from backscatter.filters.policy import load_policy


def policy_file(tmp_path, text):
    path = tmp_path / "our.toml"
    path.write_text(text)
    return path


def test_defaults_tag_everything_and_accept_on_error():
    policy = load_policy(None)
    assert policy.action_for("spoofed", 0.999) == "tag"
    assert policy.action_for("genuine", 0.01) == "tag"
    assert policy.on_error == "accept"


def test_the_surest_matching_threshold_decides(tmp_path):
    policy = load_policy(
        policy_file(
            tmp_path,
            '[milter.actions]\nspoofed = "quarantine"\n'
            '[[milter.thresholds]]\nabove = 0.99\naction = "reject"\n'
            '[[milter.thresholds]]\nabove = 0.9\naction = "tag"\n',
        )
    )
    assert policy.action_for("spoofed", 0.6) == "quarantine"
    assert policy.action_for("spoofed", 0.95) == "tag"
    assert policy.action_for("spoofed", 0.995) == "reject"
    assert policy.action_for("genuine", 0.995) == "tag"  # thresholds are for spoofed only


def test_outbound_is_auth_a_submission_daemon_or_our_network(tmp_path):
    policy = load_policy(policy_file(tmp_path, '[milter]\noutbound_networks = ["192.0.2.0/24"]\n'))
    assert policy.is_outbound(None, "198.51.100.1", authenticated=True)
    assert policy.is_outbound("ORIGINATING", "198.51.100.1", authenticated=False)
    assert policy.is_outbound("mx", "192.0.2.77", authenticated=False)
    assert not policy.is_outbound("mx", "198.51.100.1", authenticated=False)
    assert not policy.is_outbound("mx", "not an address", authenticated=False)


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ('[milter.actions]\nspoofed = "bounce"\n', "milter action"),
        ('[milter]\non_error = "panic"\n', "on_error"),
        ("[[milter.thresholds]]\nabove = 0.9\n", "action"),
        ("[milter]\noutbound_networks = ['not-a-net']\n", "not-a-net"),
        ("[milter]\nmax_message_kb = 0\n", "max_message_kb"),
    ],
)
def test_a_bad_policy_is_one_plain_error(tmp_path, text, complaint):
    with pytest.raises(BackscatterError, match=complaint):
        load_policy(policy_file(tmp_path, text))


def test_the_milter_command_refuses_bad_options_in_one_line(tmp_path):
    for args in (
        ["--socket", "tcp:25"],
        ["--socket", f"unix:{tmp_path}/m.sock", "--spoofed-action", "bounce"],
        ["--socket", f"unix:{tmp_path}/m.sock", "--model", str(tmp_path / "none.skops")],
    ):
        result = subprocess.run(
            [sys.executable, "-m", "backscatter", "milter", *args],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 2, args
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, args

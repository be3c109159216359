"""Our infrastructure (from the config): relays, DKIM and BATV that only we can produce."""

from __future__ import annotations

from backscatter.features.feature import Feature, flag, positive

FEATURES: tuple[Feature, ...] = (
    Feature(
        "config_given",
        "our domains, relays or BATV secrets are configured",
        lambda e: flag(e.config_given),
    ),
    Feature(
        "our_relay_in_chain",
        "our relay is in the returned Received chain (SpamAssassin VBounce)",
        lambda e: flag(e.our_relay_in_chain),
        rule="VIA_OUR_RELAY",
    ),
    Feature(
        "our_dkim",
        "the returned original carries our DKIM signature",
        lambda e: flag(e.our_dkim),
        rule="OUR_DKIM_SIGNATURE",
    ),
    Feature(
        "original_from_ours",
        "the returned original claims one of our domains as sender",
        lambda e: flag(e.original_from_ours),
    ),
    Feature(
        "foreign_chain",
        "configured, the original claims to be ours, yet no relay of ours",
        lambda e: flag(e.config_given and e.original_from_ours and not e.our_relay_in_chain),
        forgery=positive,
        rule="NOT_VIA_OUR_RELAY",
    ),
    Feature(
        "batv_valid",
        "the bounce's envelope recipient has a valid BATV tag of ours",
        lambda e: flag(e.batv is not None and e.batv.valid),
        rule="BATV_VALID",
    ),
    Feature(
        "batv_invalid",
        "BATV secrets configured but the envelope tag is missing or wrong",
        lambda e: flag(e.batv is not None and not e.batv.valid),
        forgery=positive,
        rule="BATV_INVALID",
    ),
    Feature(
        "batv_tagged",
        "the envelope recipient carries some tag scheme (prvs, SRS, ...)",
        lambda e: flag(e.batv_tagged),
    ),
)

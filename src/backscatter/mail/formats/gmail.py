"""Gmail and Google Workspace text notifications (failures and delays without a DSN part)."""

from backscatter.mail.formats.text import TextFormat, body_says

RECOGNISER = TextFormat(
    "gmail",
    detect=body_says(
        "delivery to the following recipient failed",
        "delivery to the following recipients failed",
        "delivery to the following recipient has been delayed",
        "we're writing to let you know that the group you tried to contact",
        "google tried to deliver your message",
    ),
    starts=(
        "delivery to the following recipient",
        "we're writing to let you know that the group",
    ),
    ends=("----- original message -----",),
)

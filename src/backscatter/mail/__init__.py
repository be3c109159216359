"""Reading mail and parsing each message into a bounce anatomy."""

from backscatter.mail.anatomy import Bounce, FailedRecipient
from backscatter.mail.parser import parse
from backscatter.mail.sources import RawMessage, SourceError, iter_messages

__all__ = ["Bounce", "FailedRecipient", "RawMessage", "SourceError", "iter_messages", "parse"]

"""backscatter: tell a genuine bounce from backscatter and fake non-delivery reports."""

from backscatter.mail import Bounce, FailedRecipient, iter_messages, parse

__version__ = "0.1.0"
__all__ = ["Bounce", "FailedRecipient", "__version__", "iter_messages", "parse"]

"""The generator of labelled training mail (reproducible; writes under data/generated/)."""

from backscatter.synth.generate import generate

__all__ = ["generate"]

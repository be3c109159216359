"""Adapters that put the Detector where mail arrives: the milter and the pipe filter.

Each is a thin translation of its protocol onto :class:`backscatter.detector.Detector`; the
verdict headers, the per-verdict policy and the outbound recording are shared, protocol-free.
"""

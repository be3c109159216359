"""Batch work on a Dask cluster: ``score``, ``parse`` and ``train`` with ``--engine dask``.

The inputs are cut into :class:`~backscatter.batch.splits.Split` tasks (a list of files, or
one byte range of an mbox); each worker opens the paths itself on shared storage, so the
client ships task descriptions, never message bytes. Results come back in task order, so
the output is the single-process run's, byte for byte.

Modules: ``splits`` (planning and reading a split; no Dask needed), ``work`` (what runs on a
worker), ``parquet`` (the dataset schema), ``cluster`` (connecting, ordered streaming) and
``run`` (what the commands call). Dask is an optional extra, imported only here.
"""

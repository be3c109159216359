"""The Parquet dataset ``--format parquet --output DIR`` writes: one file per task.

Each worker writes its own partition, ``part-NNNNNN.parquet`` numbered in task order (sorted
by name, the files hold the records in the order ``--format jsonl`` writes them), first under
a hidden temporary name and then renamed, so a reader never sees half a file.

The schema is declared here rather than inferred, because inference is per file: a partition
whose every ``original_subject`` is null, or whose messages name no recipients, would get a
``null`` column type and the dataset would not read as one table. Lists are Parquet list
columns (``recipients`` a list of structs with FailedRecipient's fields, ``evidence`` and
``rules`` lists of strings), not JSON strings: analytics engines (pyarrow, pandas, DuckDB,
Spark) read them natively, can unnest them, and skip the columns a query does not name.
A test checks that every key of a record has a column, so a new record field cannot be
dropped silently.
"""

from __future__ import annotations

import os
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

_STRING, _BOOL = pa.string(), pa.bool_()

RECIPIENT = pa.struct(
    [
        ("address", _STRING),
        ("status", _STRING),
        ("action", _STRING),
        ("diagnostic_code", _STRING),
        ("remote_mta", _STRING),
        ("reason", _STRING),
        ("hard", _BOOL),
    ]
)

PARSE_FIELDS: list[tuple[str, pa.DataType]] = [
    ("source", _STRING),
    ("is_bounce", _BOOL),
    ("format", _STRING),
    ("recipients", pa.list_(RECIPIENT)),
    ("reporting_mta", _STRING),
    ("arrival_date", _STRING),
    ("original_message_id", _STRING),
    ("original_from", _STRING),
    ("original_to", _STRING),
    ("original_subject", _STRING),
    ("original_date", _STRING),
    ("original_received", pa.list_(_STRING)),
    ("message_id", _STRING),
    ("from", _STRING),
    ("subject", _STRING),
    ("date", _STRING),
    ("return_path", _STRING),
    ("size", pa.int64()),
    ("mime_defects", pa.list_(_STRING)),
    ("error", _STRING),
    ("is_mail", _BOOL),
]

VERDICT_FIELDS: list[tuple[str, pa.DataType]] = [
    ("verdict", _STRING),
    ("spoofed_probability", pa.float64()),
    ("evidence", pa.list_(_STRING)),
    ("rules", pa.list_(_STRING)),
    ("sent_log_match", _STRING),
    ("sent_log_coverage", _STRING),
]

PARSE_SCHEMA = pa.schema(PARSE_FIELDS)
SCORE_SCHEMA = pa.schema(PARSE_FIELDS + VERDICT_FIELDS)


def schema(verdicts: bool) -> pa.Schema:
    return SCORE_SCHEMA if verdicts else PARSE_SCHEMA


def partition_name(index: int) -> str:
    return f"part-{index:06d}.parquet"


def write_partition(records: list[dict[str, Any]], target: str, verdicts: bool) -> None:
    """One task's records as one Parquet file (an empty task writes an empty file: the
    dataset's file count is the task count, and its schema is in every file)."""
    table = pa.Table.from_pylist(records, schema=schema(verdicts))
    folder, name = os.path.split(target)
    temporary = os.path.join(folder, f".{name}.{os.getpid()}.tmp")
    pq.write_table(table, temporary)
    os.replace(temporary, target)

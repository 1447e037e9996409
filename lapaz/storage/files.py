"""Writing the data folder's files safely: a file is replaced whole, never half written,
and a line appended is written whole, in one call."""

import os
from pathlib import Path

import orjson


def _rewrite(path: Path, lines) -> None:
    """Replace the file at `path` with these JSON lines, atomically."""
    partial = path.with_suffix(".jsonl.partial")
    with partial.open("wb") as stream:
        for line in lines:
            stream.write(line + b"\n")
    os.replace(partial, path)


def append_json_lines(path: Path, records: list[dict]) -> None:
    """Append the records to the JSON-lines file at `path`, one write, flushed to disk.

    One write to a file opened for appending: a reader, or another process appending to
    the same file, never sees half a line of it.
    """
    if not records:
        return
    with path.open("ab") as stream:
        stream.write(b"".join(orjson.dumps(record) + b"\n" for record in records))
        stream.flush()
        os.fsync(stream.fileno())

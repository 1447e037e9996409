"""Writing the data folder's files safely: a file is replaced whole, never half written."""

import os
from pathlib import Path


def _rewrite(path: Path, lines) -> None:
    """Replace the file at `path` with these JSON lines, atomically."""
    partial = path.with_suffix(".jsonl.partial")
    with partial.open("wb") as stream:
        for line in lines:
            stream.write(line + b"\n")
    os.replace(partial, path)

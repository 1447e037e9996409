"""Writing the data folder's files safely: one lock, files replaced whole, lines appended whole.

Every writer of the folder (the crawl's pipeline, `postprocess.reparse`) takes the lock
first; every file rewritten goes through `replace_atomically`, so that a reader, or a run
killed half-way, never sees half a file; every line appended to a log (the change log, the
run history) goes through `append_json_lines`, in one write.
"""

import fcntl
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson

from lapaz.i18n import _

# Held while a crawl (or a re-parse) writes, so that two never write the same files.
LOCK_FILE = ".lock"
# The WARC archive of every answer (lapaz.crawl.archive writes it, postprocess.reparse
# reads it): <data dir>/archivo/lapaz-<run start>.warc.gz
ARCHIVE_DIR = "archivo"
ARCHIVE_SUFFIX = ".warc.gz"
# Pages that no longer look like permit pages, kept for a person (lapaz.permits.drift).
SAMPLES_DIR = "muestras"


class FolderBusy(OSError):
    """The data folder is locked by another process; the message is one line."""


def lock_folder(data_dir: Path):
    """The folder's lock, held until the returned file is closed (or the process ends)."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        lock = (data_dir / LOCK_FILE).open("a")
    except OSError as error:
        raise OSError(
            _("the data directory {path} is not writable: {error}").format(
                path=data_dir, error=error
            )
        ) from error
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise FolderBusy(
            _(
                "a crawl is writing to {path}: wait for it to end, or give this other"
                " one another LAPAZ_DATA_DIR"
            ).format(path=data_dir)
        ) from None
    return lock


@contextmanager
def atomic_file(path: Path) -> Iterator:
    """A binary stream whose content replaces the file at `path` when the block ends
    without an error: written beside it, flushed to disk, then renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    stream = partial.open("wb")
    try:
        with stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(partial, path)
    except BaseException:
        # The file stays as it was, and no half of its successor lies beside it.
        partial.unlink(missing_ok=True)
        raise


def replace_atomically(path: Path, lines: Iterable[bytes]) -> None:
    """Replace the file at `path` with these lines, each followed by a newline."""
    with atomic_file(path) as stream:
        for line in lines:
            stream.write(line + b"\n")


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

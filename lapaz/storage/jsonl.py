"""A JSON-lines reader that tolerates what an interrupted crawl leaves behind.

A crawl stopped mid-write leaves its last line cut short: that line is dropped with a
warning and the rest is kept. Any other line that is not a JSON object means the file
is damaged or is not JSON lines at all, and reading fails with the file and line number.
"""

from dataclasses import dataclass, field
from pathlib import Path

import orjson

from lapaz.i18n import _


class JsonLinesError(Exception):
    """An input file that cannot be read as JSON lines; the message is one line."""


@dataclass
class JsonLines:
    records: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def read_jsonl(path: Path) -> JsonLines:
    """Every JSON object of the file at `path`, one a line; blank lines are skipped."""
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        raise JsonLinesError(_("{path}: file not found").format(path=path)) from None
    except OSError as error:
        raise JsonLinesError(
            _("{path}: cannot read ({error})").format(path=path, error=error.strerror or error)
        ) from None
    return parse_jsonl(content, str(path))


def parse_jsonl(content: bytes, name: str) -> JsonLines:
    """The records of JSON-lines `content`; `name` identifies it in messages."""
    result = JsonLines()
    numbered_lines = [
        (number, line) for number, line in enumerate(content.split(b"\n"), 1) if line.strip()
    ]
    last_number = numbered_lines[-1][0] if numbered_lines else 0
    for number, line in numbered_lines:
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            # A cut-off last line (no newline after it) is what an interrupted crawl
            # leaves; a file whose only, complete line is broken is not JSON lines at all.
            torn = not content.endswith(b"\n")
            if number == last_number and (result.records or torn):
                result.warnings.append(
                    _("{file}: line {number} is incomplete (interrupted crawl?), ignored").format(
                        file=name, number=number
                    )
                )
                continue
            raise JsonLinesError(
                _("{file}: line {number} is not valid JSON").format(file=name, number=number)
            ) from None
        if not isinstance(record, dict):
            raise JsonLinesError(
                _("{file}: line {number} is not a JSON object").format(file=name, number=number)
            )
        result.records.append(record)
    return result

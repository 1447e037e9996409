"""Fault rules: which requests fail, how, and for how long.

A rule selects targets (page identifiers, or WFS `startIndex` values) deterministically,
fails the first `times` requests for each selected target, then lets it heal. Every kind
of failure is one entry of `FAULT_REPLIES`, which turns the normal reply into the faulty one.
"""

import hashlib
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from tools.replica.pages import error_page, no_sections_page
from tools.replica.wfs import exception_report

TARGETS = ("wfs", "page")


@dataclass(frozen=True)
class Reply:
    status: int
    content_type: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()
    # Seconds to wait before answering.
    delay: float = 0.0
    # Close the connection after this many body bytes, Content-Length notwithstanding.
    drop_after: int | None = None


ReplyFactory = Callable[[], Reply]

HTML = "text/html;charset=UTF-8"
XML = "text/xml;charset=UTF-8"
REASONS = {429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway"}


def unit_interval(*parts: object) -> float:
    """A stable pseudo-random number in [0, 1) for `parts` (unlike hash(), across runs)."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


@dataclass(frozen=True)
class Fault:
    """One rule. Fields that a kind does not use are ignored.

    target: "wfs" or "page".
    kind: a key of FAULT_REPLIES.
    fraction: share of targets selected, by a hash of (seed, target, kind, key).
    keys: explicit targets instead (identifiers, or startIndex values); overrides fraction.
    times: failures per selected target before it heals; None fails forever. For "burst",
        the number of requests (of any key) that fail.
    status: HTTP status ("status", "burst": 503; "exception_report": 200).
    retry_after: seconds announced by "retry_after".
    delay: seconds "slow" waits before answering (make it exceed the client's timeout).
    window: "burst" fails every request within this many seconds of the first one.
    salt: another draw of targets, for two rules of the same kind and fraction that should
        select targets independently (without one, the smaller selection is within the larger).
    """

    target: str
    kind: str
    fraction: float = 1.0
    keys: tuple[str | int, ...] = ()
    times: int | None = 1
    status: int | None = None
    retry_after: int = 1
    delay: float = 30.0
    window: float | None = None
    salt: str = ""
    _key_texts: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise ValueError(f"unknown fault target {self.target!r}; use one of {TARGETS}")
        if self.kind not in FAULT_REPLIES:
            raise ValueError(f"unknown fault kind {self.kind!r}; use one of {list(FAULT_REPLIES)}")
        only_for = KIND_TARGETS.get(self.kind)
        if only_for and self.target != only_for:
            raise ValueError(f"fault kind {self.kind!r} applies to {only_for!r} only")
        object.__setattr__(self, "_key_texts", frozenset(map(str, self.keys)))

    def selects(self, key: str | int, seed: int) -> bool:
        """Whether this rule fails requests for `key` (before it heals)."""
        if self.kind == "burst":
            return True
        if self._key_texts:
            return str(key) in self._key_texts
        # Without a salt, the draw is the one rules have always made.
        salt = (self.salt,) if self.salt else ()
        return unit_interval(seed, self.target, self.kind, key, *salt) < self.fraction


def _status(fault: Fault, normal: ReplyFactory, corrupted: ReplyFactory) -> Reply:
    status = fault.status or 503
    reason = REASONS.get(status, "Service Temporarily Unavailable")
    return Reply(status, HTML, error_page(status, reason))


def _retry_after(fault: Fault, normal: ReplyFactory, corrupted: ReplyFactory) -> Reply:
    return Reply(
        429,
        HTML,
        error_page(429, REASONS[429]),
        headers=(("Retry-After", str(fault.retry_after)),),
    )


def _slow(fault: Fault, normal: ReplyFactory, corrupted: ReplyFactory) -> Reply:
    reply = normal()
    return replace(reply, delay=reply.delay + fault.delay)


def _drop(fault: Fault, normal: ReplyFactory, corrupted: ReplyFactory) -> Reply:
    reply = normal()
    return replace(reply, drop_after=len(reply.body) // 2)


def _truncated_json(fault: Fault, normal: ReplyFactory, corrupted: ReplyFactory) -> Reply:
    reply = normal()
    return replace(reply, body=reply.body[: len(reply.body) // 2])


def _exception_report(fault: Fault, normal: ReplyFactory, corrupted: ReplyFactory) -> Reply:
    body = exception_report(
        "NoApplicableCode", "", "java.lang.RuntimeException: Error occurred getting features"
    )
    return Reply(fault.status or 200, XML, body)


def _no_sections(fault: Fault, normal: ReplyFactory, corrupted: ReplyFactory) -> Reply:
    return Reply(200, HTML, no_sections_page())


def _bad_utf8(fault: Fault, normal: ReplyFactory, corrupted: ReplyFactory) -> Reply:
    return corrupted()


# kind -> the faulty reply, from the rule, the normal reply and a reply with a bad byte.
FAULT_REPLIES: dict[str, Callable[[Fault, ReplyFactory, ReplyFactory], Reply]] = {
    "status": _status,
    "retry_after": _retry_after,
    "slow": _slow,
    "drop": _drop,
    "truncated_json": _truncated_json,
    "exception_report": _exception_report,
    "no_sections": _no_sections,
    "bad_utf8": _bad_utf8,
    "burst": _status,
}
# Kinds that only make sense for one target.
KIND_TARGETS = {
    "truncated_json": "wfs",
    "exception_report": "wfs",
    "no_sections": "page",
    "bad_utf8": "page",
}


class FaultBook:
    """How many failures each rule has served to each target: the state that lets it heal."""

    def __init__(self, seed: int):
        self._seed = seed
        self._lock = threading.Lock()
        self._served: Counter[tuple[int, str]] = Counter()
        self._burst_started: dict[int, float] = {}

    def trigger(self, faults: list[Fault], target: str, key: str | int) -> Fault | None:
        """The first rule that fails this request now, counting the failure, or None."""
        for number, fault in enumerate(faults):
            if fault.target != target or not fault.selects(key, self._seed):
                continue
            slot = (number, "*" if fault.kind == "burst" else str(key))
            with self._lock:
                if fault.kind == "burst" and fault.window is not None:
                    started = self._burst_started.setdefault(number, time.monotonic())
                    if time.monotonic() - started >= fault.window:
                        continue
                if fault.times is not None and self._served[slot] >= fault.times:
                    continue
                self._served[slot] += 1
            return fault
        return None

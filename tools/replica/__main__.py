"""Serve the replica until SIGTERM or SIGINT: `python -m tools.replica --port 0`.

Prints one line, `READY http://127.0.0.1:PORT`, once it listens: a parent process waits
for that line instead of guessing how long start-up takes.
"""

import argparse
import signal
import threading

from tools.replica.dataset import DEFAULT_SEED
from tools.replica.faults import Fault
from tools.replica.limiter import RateLimit
from tools.replica.server import ReplicaConfig, ReplicaServer


def _fault(spec: str) -> Fault:
    """`TARGET:KIND[:FRACTION[:TIMES]]`, TIMES a number or `forever`."""
    target, kind, *rest = spec.split(":")
    fraction = float(rest[0]) if rest else 1.0
    times_text = rest[1] if len(rest) > 1 else "1"
    times = None if times_text == "forever" else int(times_text)
    try:
        return Fault(target=target, kind=kind, fraction=fraction, times=times)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tools.replica", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("--features", type=int, default=ReplicaConfig.features)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per page")
    parser.add_argument("--wfs-latency", type=float, default=0.0, help="seconds per WFS page")
    parser.add_argument("--wfs-latency-per-feature", type=float, default=0.0)
    parser.add_argument("--page-cap", type=int, default=None, help="server's maxFeatures")
    parser.add_argument("--omit-number-matched", action="store_true")
    parser.add_argument("--lat-lon", action="store_true", help="coordinates as [lat, lon]")
    parser.add_argument("--all-strings", action="store_true")
    parser.add_argument("--empty-string-nulls", action="store_true")
    parser.add_argument("--omit-null-properties", action="store_true")
    parser.add_argument("--unstable-order", action="store_true")
    parser.add_argument("--reject-sort-by", action="store_true")
    parser.add_argument("--no-cql-filter", action="store_true", help="ignore CQL_FILTER")
    parser.add_argument("--refused-fraction", type=float, default=ReplicaConfig.refused_fraction)
    parser.add_argument(
        "--hits-format",
        choices=["json", "xml", "ignored"],
        default=ReplicaConfig.hits_format,
        help="how resultType=hits is answered",
    )
    parser.add_argument(
        "--failure-rate",
        type=float,
        default=0.0,
        help="fraction of permit pages that answer 503 forever",
    )
    parser.add_argument(
        "--rate-limit",
        type=float,
        default=None,
        metavar="RATE",
        help="nginx-like limit_req in front of the site: requests a second (default: none)",
    )
    parser.add_argument("--rate-burst", type=int, default=RateLimit.burst, help="limit_req burst")
    parser.add_argument("--rate-status", type=int, choices=[503, 429], default=RateLimit.status)
    parser.add_argument(
        "--rate-delay",
        action="store_true",
        help="hold back requests within the burst (nginx without nodelay)",
    )
    parser.add_argument(
        "--fault",
        type=_fault,
        action="append",
        default=[],
        metavar="TARGET:KIND[:FRACTION[:TIMES]]",
        help="a fault rule, e.g. page:status:0.1:2 or wfs:drop:1:forever (repeatable)",
    )
    return parser.parse_args(argv)


def config_from(args: argparse.Namespace) -> ReplicaConfig:
    faults = list(args.fault)
    if args.failure_rate:
        faults.append(Fault(target="page", kind="status", fraction=args.failure_rate, times=None))
    return ReplicaConfig(
        features=args.features,
        seed=args.seed,
        latency=args.latency,
        wfs_latency=args.wfs_latency,
        wfs_latency_per_feature=args.wfs_latency_per_feature,
        page_cap=args.page_cap,
        omit_number_matched=args.omit_number_matched,
        lat_lon_order=args.lat_lon,
        all_strings=args.all_strings,
        empty_string_nulls=args.empty_string_nulls,
        omit_null_properties=args.omit_null_properties,
        unstable_order=args.unstable_order,
        reject_sort_by=args.reject_sort_by,
        cql_filter=not args.no_cql_filter,
        refused_fraction=args.refused_fraction,
        hits_format=args.hits_format,
        faults=faults,
        rate_limit=rate_limit_from(args),
    )


def rate_limit_from(args: argparse.Namespace) -> RateLimit | None:
    if args.rate_limit is None:
        return None
    return RateLimit(
        args.rate_limit, args.rate_burst, nodelay=not args.rate_delay, status=args.rate_status
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stop = threading.Event()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signal_number, lambda *_: stop.set())
    with ReplicaServer(config_from(args), port=args.port) as replica:
        print(f"READY {replica.url}", flush=True)
        # A bounded wait in a loop, so the signal handler gets to run promptly.
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

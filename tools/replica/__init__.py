"""A local replica of the La Paz permit site (WFS layer and permit pages) for tests,
benchmarks and the offline demo. `python -m tools.replica --help` serves it standalone."""

from tools.replica.dataset import generate_features, page_identifier, page_rows
from tools.replica.faults import Fault
from tools.replica.limiter import RateLimit
from tools.replica.server import ReplicaConfig, ReplicaServer

__all__ = [
    "Fault",
    "RateLimit",
    "ReplicaConfig",
    "ReplicaServer",
    "generate_features",
    "page_identifier",
    "page_rows",
]

"""A local replica of the La Paz permit site (WFS layer and permit pages) for tests,
benchmarks and the offline demo. `python -m tests.replica --help` serves it standalone."""

from tests.replica.dataset import generate_features, page_identifier, page_rows
from tests.replica.faults import Fault
from tests.replica.limiter import RateLimit
from tests.replica.server import ReplicaConfig, ReplicaServer

__all__ = [
    "Fault",
    "RateLimit",
    "ReplicaConfig",
    "ReplicaServer",
    "generate_features",
    "page_identifier",
    "page_rows",
]

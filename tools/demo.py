"""The whole flow without the real site: start the replica, crawl it, merge, stop.

python -m tools.demo [--features 3000] [--data-dir demo-data] [--report]

With --report it also draws the report's charts, into DATA_DIR/report. Everything made from
DATA_DIR says it is demo data (postprocess.demo_mark). Its lines are in the user's language
(lapaz.i18n), as the crawl's and the merge's are.
"""

import argparse
import subprocess
import sys
from pathlib import Path

from lapaz.i18n import _
from postprocess.demo_mark import write_demo_marker
from postprocess.merge import DEFAULT_OUTPUT
from tools.crawl import PROJECT_ROOT, crawl_command, crawl_settings
from tools.replica import ReplicaConfig, ReplicaServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.demo",
        description=_(
            "The whole flow without the real site: start a replica of it, crawl it, merge,"
            " stop. Everything it writes says it is demo data."
        ),
    )
    parser.add_argument(
        "--features", type=int, default=3000, help=_("permits in the replica (invented)")
    )
    parser.add_argument(
        "--data-dir", type=Path, default=Path("demo-data"), help=_("the demo's data folder")
    )
    parser.add_argument(
        "--latency", type=float, default=0.05, help=_("seconds the replica takes per page")
    )
    parser.add_argument(
        "--report", action="store_true", help=_("also draw the report (into DATA_DIR/report)")
    )
    options = parser.parse_args(argv)
    data_dir = options.data_dir.resolve()
    # Written first: whatever is made from this folder says it is a demo.
    write_demo_marker(data_dir)

    with ReplicaServer(ReplicaConfig(features=options.features, latency=options.latency)) as site:
        print(
            _("replica of the site at {url} ({count} invented permits)").format(
                url=site.url, count=options.features
            ),
            flush=True,
        )
        # The project's own politeness and console settings, only pointed at the replica.
        settings = crawl_settings(site, data_dir)
        for test_only in ("AUTOTHROTTLE_ENABLED", "CONCURRENT_REQUESTS_PER_DOMAIN", "LOG_LEVEL"):
            settings.pop(test_only)
        crawl = subprocess.run(crawl_command(settings), cwd=PROJECT_ROOT, check=False)
    if crawl.returncode != 0:
        print(
            _("the crawl failed (exit status {status})").format(status=crawl.returncode),
            file=sys.stderr,
        )
        return crawl.returncode
    merge = [sys.executable, "-m", "postprocess.merge", "--data-dir", str(data_dir)]
    merged = subprocess.run(merge, cwd=PROJECT_ROOT, check=False)
    if merged.returncode != 0 or not options.report:
        return merged.returncode
    # The report goes next to its input: DATA_DIR/report.
    report = [sys.executable, "-m", "postprocess.report", "--input", str(data_dir / DEFAULT_OUTPUT)]
    return subprocess.run(report, cwd=PROJECT_ROOT, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())

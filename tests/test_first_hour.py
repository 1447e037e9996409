"""What a new user meets first: typos, a site that cannot be reached, a forbidding
robots.txt, a server that is down. Each ends soon, with one line that says why."""

import fcntl
import socket
import time

import pytest

from lapaz.spiders.arguments import CrawlArguments
from tests.crawl import run_crawl
from tools.crawl import Site
from tools.replica import Fault, ReplicaConfig, ReplicaServer

FEATURES = 300
# The project's pace, not the quick one of the other crawl tests: the bounds are its own.
PROJECT_PACE = {"CONCURRENT_REQUESTS_PER_DOMAIN": 4}


def last_line(result) -> str:
    return result.log.strip().splitlines()[-1]


def assert_ends_on_one_clear_line(result, *words: str) -> str:
    assert result.returncode == 1, result.log[-3000:]
    assert "Traceback" not in result.log
    line = last_line(result)
    assert line.startswith("error: "), line
    for word in words:
        assert word in line, line
    return line


# -- Arguments ------------------------------------------------------------------------------


def test_a_mistyped_argument_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="unknown argument") as error:
        CrawlArguments.parse(limit="50")
    message = str(error.value)
    assert "did you mean -a limite?" in message
    for known in ("resultado", "limite", "refresco", "desde", "hasta", "macrodistrito"):
        assert known in message
    assert "\n" not in message


def test_arguments_of_the_scheduler_are_accepted():
    assert CrawlArguments.parse(_job="a1b2", limite="3").limit == 3


@pytest.mark.e2e
def test_a_mistyped_argument_stops_the_crawl_before_any_request(tmp_path):
    with ReplicaServer(ReplicaConfig(features=FEATURES)) as replica:
        result = run_crawl(replica, tmp_path / "data", arguments={"limit": "50"})
        requests = replica.stats.snapshot()["requests"]
    assert_ends_on_one_clear_line(result, "-a limit", "did you mean -a limite?")
    assert requests == {}, "nothing was asked of the site"


# -- A crawl that cannot start ---------------------------------------------------------------


@pytest.mark.e2e
def test_a_data_folder_that_cannot_be_written_is_one_line(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with ReplicaServer(ReplicaConfig(features=FEATURES)) as replica:
        result = run_crawl(replica, blocker / "data")
    assert_ends_on_one_clear_line(result, "is not writable")
    assert "AssertionError" not in result.log


@pytest.mark.e2e
def test_a_folder_another_crawl_writes_to_is_one_line(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    with (data / ".lock").open("a") as lock, ReplicaServer(ReplicaConfig(FEATURES)) as replica:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = run_crawl(replica, data)
        requests = replica.stats.snapshot()["requests"]
    assert_ends_on_one_clear_line(result, "a crawl is writing to")
    assert "AssertionError" not in result.log
    assert requests == {}


# -- A site that cannot be reached -------------------------------------------------------------


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("host", "why"),
    [
        (f"127.0.0.1:{closed_port()}", "refuses connections"),
        ("sitservicios.invalid", "does not resolve"),
    ],
)
def test_a_host_that_cannot_be_reached_is_said_in_seconds(tmp_path, host, why):
    site = Site(f"http://{host}/geoserver/sit/ows", f"http://{host}/situtiles/pc/")
    started = time.monotonic()
    result = run_crawl(site, tmp_path / "data", timeout=60, **PROJECT_PACE)
    elapsed = time.monotonic() - started
    assert_ends_on_one_clear_line(result, host, why, "Check the internet connection")
    assert elapsed < 30, elapsed


# -- A server that is down -----------------------------------------------------------------------


@pytest.mark.e2e
def test_a_dead_wfs_ends_the_crawl_within_a_minute(tmp_path):
    dead = Fault("wfs", "status", status=503, fraction=1.0, times=None)
    with ReplicaServer(ReplicaConfig(features=FEATURES, faults=[dead])) as replica:
        started = time.monotonic()
        result = run_crawl(replica, tmp_path / "data", timeout=120, **PROJECT_PACE)
        elapsed = time.monotonic() - started
        requests = replica.stats.snapshot()["requests"]
    assert_ends_on_one_clear_line(
        result, "The WFS harvest is incomplete", "http_503 to every try (6)", "try again later"
    )
    assert elapsed < 60, elapsed
    # The count once, the first page and its five retries; no permit page.
    assert requests.get("wfs") == 7
    assert "page" not in requests


# -- A robots.txt that forbids --------------------------------------------------------------------


def crawl_under_robots_txt(tmp_path, disallowed: str):
    """A crawl of a site whose robots.txt disallows `disallowed` to every crawler; the
    result, the replica's address and the requests it received by kind."""
    robots = f"User-agent: *\nDisallow: {disallowed}\n"
    with ReplicaServer(ReplicaConfig(features=FEATURES, robots_txt=robots)) as replica:
        result = run_crawl(replica, tmp_path / "data", **PROJECT_PACE)
        return result, replica.url, replica.stats.snapshot()["requests"]


@pytest.mark.e2e
def test_a_robots_txt_forbidding_the_pages_stops_them_and_says_which_rule(tmp_path):
    result, site_url, requests = crawl_under_robots_txt(tmp_path, "/situtiles/")
    line = assert_ends_on_one_clear_line(result, "Disallow: /situtiles/", "ROBOTSTXT_OBEY=False")
    assert f"{site_url}/robots.txt" in line
    assert "page" not in requests, "no permit page was asked for"
    assert len(result.tramites) == FEATURES, "the features are harvested all the same"
    pages = [record for record in result.detalles if record["url"]]
    assert pages
    assert {record["error"] for record in pages} == {"no_solicitada"}
    said = [
        line
        for line in result.log.splitlines()
        if "forbids the permit pages" in line and not line.lstrip().startswith(("'", "{"))
    ]
    # once when the crawl stops asking, and as the last line (the summary points to it)
    assert len(said) == 2, said


@pytest.mark.e2e
def test_a_robots_txt_forbidding_the_layer_ends_the_crawl(tmp_path):
    result, _, requests = crawl_under_robots_txt(tmp_path, "/geoserver/")
    assert_ends_on_one_clear_line(result, "Disallow: /geoserver/", "the WFS layer")
    assert set(requests) == {"other"}, "robots.txt alone was asked for"

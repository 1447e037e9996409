"""Deployment to a real Scrapyd: the egg, `scrapyd-deploy`, `schedule.json`, the job's files.

One Scrapyd (with basic authentication, as a shared server would have) and one replica of
the site serve the whole module; the project is deployed once, as docs/scrapyd.md tells, through
a `[deploy:NAME]` target whose credentials come from environment variables.
"""

import zipfile
from pathlib import Path

import pytest

from lapaz.storage.files import LOCK_FILE
from lapaz.storage.jsonl import read_jsonl
from tools.crawl import PROJECT_ROOT, crawl_settings
from tools.replica import ReplicaConfig, ReplicaServer
from tools.scrapyd_server import (
    PROJECT,
    ScrapydServer,
    add_deploy_target,
    copy_project,
    isolated_environment,
    scrapyd_deploy,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]

SPIDER = "tramites"
FEATURES = 40
LIMIT = 20
JOB_TIMEOUT = 30
TARGET = "test-scrapyd"
USERNAME, PASSWORD = "lapaz-ci", "not-a-real-secret"
CREDENTIAL_VARIABLES = ("LAPAZ_TEST_SCRAPYD_USERNAME", "LAPAZ_TEST_SCRAPYD_PASSWORD")

# The job's lines in English, whatever the locale Scrapyd was started under: the language
# travels as a setting (LAPAZ_IDIOMA), as a scheduled job would set it.
IN_ENGLISH = {"LAPAZ_IDIOMA": "en"}


@pytest.fixture(scope="module")
def replica():
    with ReplicaServer(ReplicaConfig(features=FEATURES)) as server:
        yield server


@pytest.fixture(scope="module")
def scrapyd(tmp_path_factory):
    """A running Scrapyd with the project deployed to it."""
    with ScrapydServer(
        tmp_path_factory.mktemp("scrapyd"), username=USERNAME, password=PASSWORD
    ) as server:
        project_copy = copy_project(tmp_path_factory.mktemp("project"))
        add_deploy_target(project_copy, TARGET, server.url, CREDENTIAL_VARIABLES)
        credentials = dict(zip(CREDENTIAL_VARIABLES, (USERNAME, PASSWORD), strict=True))
        deployed = scrapyd_deploy(
            project_copy, TARGET, environment=isolated_environment(**credentials)
        )
        assert deployed.returncode == 0, (
            f"deploy: scrapyd-deploy {TARGET} failed\n{deployed.stdout}{deployed.stderr}"
            + server.output()
        )
        spiders = server.get("listspiders.json", project=PROJECT)
        assert spiders.get("spiders") == [SPIDER], f"deploy: the egg's spiders: {spiders}"
        yield server


def job_log_text(scrapyd: ScrapydServer, job_id: str) -> str:
    path = scrapyd.job_log(SPIDER, job_id)
    assert path.exists(), f"log: no {path}\n" + scrapyd.output()
    return path.read_text(errors="replace")


def test_egg_holds_every_module_and_the_settings_entry_point(tmp_path):
    project_copy = copy_project(tmp_path / "project")
    egg = tmp_path / "lapaz.egg"
    built = scrapyd_deploy(project_copy, "--build-egg", str(egg))
    assert built.returncode == 0, f"build: {built.stdout}{built.stderr}"
    with zipfile.ZipFile(egg) as archive:
        names = set(archive.namelist())
        entry_points = archive.read("EGG-INFO/entry_points.txt").decode()
    modules = {
        path.relative_to(PROJECT_ROOT).as_posix() for path in (PROJECT_ROOT / "lapaz").rglob("*.py")
    }
    assert modules - names == set(), "every module of the package is in the egg"
    assert "lapaz/commands/crawl.py" in names, "our `crawl` command, which Scrapyd runs"
    assert "settings = lapaz.settings" in entry_points, entry_points


def test_scheduled_crawl_writes_the_items_feed_and_our_json_lines(scrapyd, replica, tmp_path):
    data_dir = tmp_path / "data"
    settings = crawl_settings(replica, data_dir, **IN_ENGLISH)
    job_id = scrapyd.schedule(SPIDER, settings, {"limite": LIMIT})
    job = scrapyd.wait_for_job(job_id, JOB_TIMEOUT)

    log = job_log_text(scrapyd, job_id)
    assert "Traceback" not in log, f"log: a traceback\n{log}"
    assert "ERROR" not in log, f"log: an error\n{log}"
    assert "Spider closed (finished)" in log, f"log: the spider did not finish\n{log}"
    exit_line = scrapyd.job_exit_line(job_id)
    assert "Process finished" in exit_line, f"exit: {exit_line or scrapyd.output()}"

    tramites = read_jsonl(data_dir / "tramites.jsonl").records
    detalles = read_jsonl(data_dir / "detalles.jsonl").records
    assert len(tramites) == LIMIT, "files: `-d limite` reached the spider beside `_job`"
    harvested = {record["id_pc_tramite"] for record in tramites}
    approved = {f["properties"]["idPCTramite"] for f in replica.approved_features()}
    assert {record["id_pc_tramite"] for record in detalles} == harvested & approved, (
        "files: a detalles record for each approved permit harvested"
    )
    assert detalles, "files: the replica has approved permits among the first ones"

    items_path = scrapyd.job_items(SPIDER, job_id)
    assert job["items_url"].endswith(f"{job_id}.jl"), f"items: {job}"
    assert items_path.exists(), f"items: no feed at {items_path}\n{log[-3000:]}"
    items = read_jsonl(items_path).records
    feed_tramites = [item for item in items if "identificador" not in item]
    feed_detalles = [item for item in items if "identificador" in item]
    assert {item["id_pc_tramite"] for item in feed_tramites} == harvested, "items: tramites"
    assert sorted(item["identificador"] or "" for item in feed_detalles) == sorted(
        record["identificador"] or "" for record in detalles
    ), "items: detalles"
    assert len(items) == len(tramites) + len(detalles), "items: one per record written"


def test_incomplete_harvest_fails_the_job_and_relative_data_dir_is_under_scrapyd(scrapyd, replica):
    # A layer that is not there: the harvest cannot complete.
    settings = crawl_settings(
        replica, Path(), LAPAZ_WFS_URL=replica.url + "/no-such-layer", **IN_ENGLISH
    )
    # Left to its default, `data`, LAPAZ_DATA_DIR resolves against Scrapyd's working folder.
    del settings["LAPAZ_DATA_DIR"]
    job_id = scrapyd.schedule(SPIDER, settings, {"limite": LIMIT})
    scrapyd.wait_for_job(job_id, JOB_TIMEOUT)

    log = job_log_text(scrapyd, job_id)
    assert "The WFS harvest is incomplete" in log, f"log: no incomplete harvest\n{log}"
    exit_line = scrapyd.job_exit_line(job_id)
    assert "Process died: exitstatus=1" in exit_line, (
        f"exit: our `crawl` command should exit 1 under Scrapyd: {exit_line or scrapyd.output()}"
    )
    data_dir = scrapyd.folder / "data"
    # The crawl opened (and locked) its data folder there; a harvest without features
    # leaves no features file.
    assert (data_dir / LOCK_FILE).exists(), (
        f"files: `data` is not under Scrapyd's folder: {sorted(scrapyd.folder.iterdir())}"
    )

"""A real Scrapyd in a temporary folder, and deployment of the project to it, for tests.

`ScrapydServer` starts the `scrapyd` of this virtualenv with a `scrapyd.conf` of its own
(a free port, every folder inside its own, a 1 s poll so jobs start at once) and talks to
its JSON API with urllib. `deploy_project` runs `scrapyd-deploy` from a copy of the
project, so the build leftovers (`build/`, `*.egg-info/`) never land in the work tree.
"""

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from tools.crawl import PROJECT_ROOT

BIN_DIR = Path(sys.executable).parent
PROJECT = "lapaz"
# What `scrapyd-deploy` needs to build the egg: the rest of the repository is not deployed.
DEPLOYED_PATHS = ("scrapy.cfg", "setup.py", "lapaz")
START_TIMEOUT = 20
DEPLOY_TIMEOUT = 60
STOP_TIMEOUT = 10
REQUEST_TIMEOUT = 10
# Scrapyd's default, 5 s, would make every test wait for a job to start.
POLL_INTERVAL = 1


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def isolated_environment(**extra: str) -> dict[str, str]:
    """Our environment without what would change which code or config Scrapyd uses.

    SCRAPYD_* variables override scrapyd.conf (port, credentials); SCRAPY_SETTINGS_MODULE
    or PYTHONPATH could make a job import the work tree instead of the deployed egg.
    """
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("SCRAPY_", "SCRAPYD_")) and name != "PYTHONPATH"
    }
    return {**environment, "PYTHONUNBUFFERED": "1", **extra}


class ScrapydError(AssertionError):
    """A step of talking to Scrapyd failed; the message says which and shows its output."""


class ScrapydServer:
    """`with ScrapydServer(folder) as scrapyd:` a running Scrapyd; stopped on exit."""

    def __init__(self, folder: Path, username: str = "", password: str = ""):
        self.folder = folder
        self.username = username
        self.password = password
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.output_path = folder / "scrapyd.out"
        self.process: subprocess.Popen | None = None

    # -- life cycle --------------------------------------------------------------------

    def write_config(self) -> Path:
        config = self.folder / "scrapyd.conf"
        config.write_text(
            "[scrapyd]\n"
            "bind_address = 127.0.0.1\n"
            f"http_port = {self.port}\n"
            f"username = {self.username}\n"
            f"password = {self.password}\n"
            f"poll_interval = {POLL_INTERVAL}\n"
            f"eggs_dir = {self.folder / 'eggs'}\n"
            f"logs_dir = {self.folder / 'logs'}\n"
            f"items_dir = {self.folder / 'items'}\n"
            f"dbs_dir = {self.folder / 'dbs'}\n"
        )
        return config

    def __enter__(self) -> "ScrapydServer":
        self.folder.mkdir(parents=True, exist_ok=True)
        self.write_config()
        with self.output_path.open("wb") as output:
            # Scrapyd reads ./scrapyd.conf, and its jobs run in its working folder.
            self.process = subprocess.Popen(
                [str(BIN_DIR / "scrapyd")],
                cwd=self.folder,
                stdout=output,
                stderr=subprocess.STDOUT,
                env=isolated_environment(),
            )
        try:
            self.wait_until_answering()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def wait_until_answering(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ScrapydError(
                    f"start: scrapyd exited with status {self.process.returncode}\n" + self.output()
                )
            try:
                answer = self.get("daemonstatus.json")
            except urllib.error.HTTPError:
                raise  # It listens and refuses (credentials?): waiting will not help.
            except OSError as error:  # not listening yet
                last_error = error
            else:
                if answer.get("status") == "ok":
                    return
            time.sleep(0.1)
        raise ScrapydError(
            f"start: scrapyd did not answer daemonstatus.json within {timeout} s "
            f"({last_error})\n" + self.output()
        )

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT)

    def output(self, last_chars: int = 6000) -> str:
        """The end of Scrapyd's own log (its jobs' stderr and exit statuses are there)."""
        if not self.output_path.exists():
            return ""
        return self.output_path.read_text(errors="replace")[-last_chars:]

    # -- the JSON API ------------------------------------------------------------------

    def _call(self, request: urllib.request.Request) -> dict:
        if self.username:
            token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:
            return json.load(response)

    def get(self, endpoint: str, **params: str) -> dict:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        return self._call(urllib.request.Request(f"{self.url}/{endpoint}{query}"))

    def post(self, endpoint: str, fields: list[tuple[str, str]]) -> dict:
        body = urllib.parse.urlencode(fields).encode()
        return self._call(urllib.request.Request(f"{self.url}/{endpoint}", data=body))

    def schedule(self, spider: str, settings: dict, arguments: dict) -> str:
        """schedule.json as a user would call it: `setting=NAME=VALUE` and spider arguments."""
        fields = [("project", PROJECT), ("spider", spider)]
        fields += [("setting", f"{name}={value}") for name, value in settings.items()]
        fields += [(name, str(value)) for name, value in arguments.items()]
        answer = self.post("schedule.json", fields)
        if answer.get("status") != "ok":
            raise ScrapydError(f"schedule: {answer}\n" + self.output())
        return answer["jobid"]

    def wait_for_job(self, job_id: str, timeout: float) -> dict:
        """Poll listjobs.json until the job is among the finished ones; its entry."""
        deadline = time.monotonic() + timeout
        jobs: dict = {}
        while time.monotonic() < deadline:
            jobs = self.get("listjobs.json", project=PROJECT)
            for job in jobs["finished"]:
                if job["id"] == job_id:
                    return job
            time.sleep(0.2)
        raise ScrapydError(
            f"job {job_id} did not finish within {timeout} s: {jobs}\n" + self.output()
        )

    # -- where a job's files are ---------------------------------------------------------

    def job_log(self, spider: str, job_id: str) -> Path:
        return self.folder / "logs" / PROJECT / spider / f"{job_id}.log"

    def job_items(self, spider: str, job_id: str) -> Path:
        return self.folder / "items" / PROJECT / spider / f"{job_id}.jl"

    def job_exit_line(self, job_id: str) -> str:
        """Scrapyd's line on how the job's process ended: `Process finished` or `died`."""
        for line in self.output_path.read_text(errors="replace").splitlines():
            if f"job='{job_id}'" in line and ("Process finished" in line or "Process died" in line):
                return line
        return ""


def copy_project(destination: Path) -> Path:
    destination.mkdir(parents=True, exist_ok=True)
    for name in DEPLOYED_PATHS:
        source = PROJECT_ROOT / name
        if source.is_dir():
            shutil.copytree(
                source, destination / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            shutil.copy2(source, destination / name)
    return destination


def add_deploy_target(project_copy: Path, target: str, url: str, credential_variables=None):
    """A `[deploy:TARGET]` section as docs/scrapyd.md shows it: credentials as ${VARIABLES}."""
    section = f"\n[deploy:{target}]\nurl = {url}\nproject = {PROJECT}\n"
    if credential_variables:
        username_variable, password_variable = credential_variables
        section += f"username = ${{{username_variable}}}\npassword = ${{{password_variable}}}\n"
    with (project_copy / "scrapy.cfg").open("a") as config:
        config.write(section)


def scrapyd_deploy(project_copy: Path, *arguments: str, environment=None):
    """`scrapyd-deploy ARGUMENTS` in the project copy; the completed process."""
    return subprocess.run(
        [str(BIN_DIR / "scrapyd-deploy"), *arguments],
        cwd=project_copy,
        capture_output=True,
        text=True,
        timeout=DEPLOY_TIMEOUT,
        env=environment or isolated_environment(),
        check=False,
    )

"""Programs from Debian's packages that some tests run (.ci/run installs them)."""

import os
import shutil

import pytest


def needs_program(program: str, package: str):
    """Skip a test when `program` is missing, except in CI: there a missing one is a
    failure, not a skip."""
    missing = shutil.which(program) is None and not os.environ.get("CI")
    return pytest.mark.skipif(
        missing, reason=f"{program} not installed (apt-get install {package})"
    )

"""Packaging for Scrapyd: `scrapyd-deploy` builds an egg of the project from this file."""

from setuptools import find_packages, setup

from lapaz import __version__

setup(
    name="lapaz",
    version=__version__,
    description="Harvest La Paz (Bolivia) building-permit records: WFS features and pages.",
    packages=find_packages(include=["lapaz", "lapaz.*"]),
    # The message catalogs (lapaz/i18n.py): the egg Scrapyd runs speaks Spanish too.
    package_data={"lapaz": ["locale/*/LC_MESSAGES/lapaz.mo", "locale/*/LC_MESSAGES/lapaz.po"]},
    python_requires=">=3.11",
    entry_points={"scrapy": ["settings = lapaz.settings"]},
)

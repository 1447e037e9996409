"""Fixtures shared by the test modules."""

import pytest
from scrapy.utils.test import get_crawler

from lapaz.crawl.pipelines import DataFolderPipeline
from lapaz.spiders.tramites import TramitesSpider
from tests.crawl import project_settings


@pytest.fixture(autouse=True)
def english_messages(monkeypatch):
    """Messages in English, the language the tests' assertions are written in (the crawls
    and commands they start inherit it); tests of the Spanish ones set the locale."""
    monkeypatch.setenv("LAPAZ_IDIOMA", "en")


@pytest.fixture
def user_locale(monkeypatch):
    """Sets a user's locale (LC_ALL), with no LAPAZ_IDIOMA: messages follow it."""

    def use(locale: str) -> None:
        monkeypatch.delenv("LAPAZ_IDIOMA", raising=False)
        for variable in ("LANGUAGE", "LC_MESSAGES", "LANG"):
            monkeypatch.delenv(variable, raising=False)
        monkeypatch.setenv("LC_ALL", locale)

    return use


@pytest.fixture
def project_spider(tmp_path):
    """Builds the tramites spider as a crawl does (its data folder under tmp_path, opened
    by the pipeline) and releases the data folder at the end of the test."""
    pipelines = []

    def build(arguments: dict | None = None, **settings) -> TramitesSpider:
        settings = {"LAPAZ_DATA_DIR": str(tmp_path / "data"), **settings}
        crawler = get_crawler(TramitesSpider, project_settings(**settings))
        crawler.spider = TramitesSpider.from_crawler(crawler, **(arguments or {}))
        crawler._apply_settings()
        crawler.engine = crawler._create_engine()
        pipeline = crawler.get_item_pipeline(DataFolderPipeline)
        pipeline.open_spider()
        pipelines.append(pipeline)
        return crawler.spider

    yield build
    for pipeline in pipelines:
        pipeline.store.release()

"""The crawl's control flow as exception classes: what stopped, and why, is a type.

Callbacks and errbacks tell these apart with `failure.check(...)` / `except`, never by
reading a message. The WFS answers' two kinds of error are the layer's own (no Scrapy in
lapaz.layer); they are named here too, so that this module lists every one.
"""

from scrapy.exceptions import IgnoreRequest

from lapaz.layer.wfs import WfsBroken, WfsRejected

__all__ = ["ForbiddenByRobots", "LayerChanged", "PagesStopped", "WfsBroken", "WfsRejected"]


class PagesStopped(IgnoreRequest):
    """A permit page request dropped before it went out: the crawl stopped asking for
    pages (lapaz.crawl.page_gate). Its errback records the page as not requested."""


class ForbiddenByRobots(IgnoreRequest):
    """A request that the site's robots.txt forbids (lapaz.crawl.robots); the message is
    the one line a person reads, naming the rule."""


class LayerChanged(Exception):
    """The layer's properties are no longer those the crawl knows: the crawl stops and the
    last complete harvest stays. The message is the one line a person reads."""

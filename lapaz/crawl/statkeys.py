"""The names of the crawl's figures in Scrapy's stats, each written once.

The crawl's state lives in `lapaz.crawl.state.CrawlState`; these keys are where its counts
show in the stats dump, Scrapyd's job stats and the periodic progress line. The pages'
outcomes are named by the PageOutcome enum.
"""

from lapaz.records.schema import PageOutcome

WFS_NUMBER_MATCHED = "lapaz/wfs/number_matched"
WFS_PAGES = "lapaz/wfs/pages"
WFS_PAGES_FAILED = "lapaz/wfs/pages_failed"
WFS_FEATURES = "lapaz/wfs/features"
WFS_DUPLICATE_FEATURES = "lapaz/wfs/duplicate_features"
WFS_FILTERED_OUT = "lapaz/wfs/features_filtered_out"
WFS_LAT_LON_ORDER = "lapaz/wfs/features_in_lat_lon_order"
WFS_PASSES = "lapaz/wfs/passes"
PAGES_PLANNED = "lapaz/detalles/planned"
PAGES_SKIPPED_DONE = "lapaz/detalles/skipped_done"
# Pages asked again because their permit's record changed since the last harvest.
PAGES_REFRESHED = "lapaz/detalles/refreshed"
# Refused under the UTC year near New Year, asked under La Paz's year; and answered so.
PAGES_LA_PAZ_YEAR_ASKED = "lapaz/detalles/la_paz_year_asked"
PAGES_LA_PAZ_YEAR_ANSWERED = "lapaz/detalles/la_paz_year_answered"
# Pages without sections asked once more (at most once each, see lapaz.permits.drift).
PAGES_DRIFT_RETRIES = "lapaz/detalles/retried_without_sections"
# Failed pages that had failed in an earlier run too (lapaz.storage.previous).
PAGES_PERSISTING = "lapaz/detalles/failed_persisting"
TRAMITES_NEW = "lapaz/tramites/new"
RETRIES_WAITED_SECONDS = "lapaz/retries/waited_seconds"
LAYER_CHANGED = "lapaz/wfs/layer_changed"
MONITORS_FAILED = "lapaz/monitors/failed"
MONITORS_PASSED = "lapaz/monitors/passed"
SUMMARY = "lapaz/summary"
# The WARC archive (lapaz.crawl.archive): answers written, and failures to write them.
ARCHIVE_RESPONSES = "lapaz/archive/responses"
ARCHIVE_WRITE_ERRORS = "lapaz/archive/write_errors"
# The name of this run's WARC file, once it is opened.
ARCHIVE_FILE = "lapaz/archive/file"

# The pace of new requests (lapaz.crawl.throttle): the delay between them in seconds (of the
# server last changed), decreases made and given back, answers counted as failures, and
# the share of failing URLs the server shows whatever the pace.
THROTTLE_DELAY = "lapaz/throttle/delay"
THROTTLE_DECREASES = "lapaz/throttle/decreases"
THROTTLE_RESTORED = "lapaz/throttle/restored"
THROTTLE_FAILURES = "lapaz/throttle/failures"
THROTTLE_USUAL_FAILURE_SHARE = "lapaz/throttle/usual_failure_share"


def outcome_key(outcome: PageOutcome) -> str:
    """`lapaz/detalles/<outcome>`: pages of this run that ended so."""
    return f"lapaz/detalles/{outcome.value}"


def key_coverage_key(key: str) -> str:
    """`lapaz/detalles/keys/<key>`: pages with data that have this key."""
    return f"lapaz/detalles/keys/{key}"

"""lapaz: the building-permit records of La Paz, Bolivia, harvested with Scrapy.

Layers, each importing only from those below it (import-linter checks it, pyproject.toml):

    spiders/      the `tramites` spider: requests and callbacks, its arguments
    crawl/        Scrapy plumbing: state and verdict, retries, page gate, robots, archive,
                  the writer pipeline, exporters, messages, extensions/
    layer/ permits/ storage/   the WFS half, the permit pages half, the data folder
                  (independent of each other, no Scrapy)
    records/      the ground floor: schema, values, the tramites record, diff, pick

`settings.py` and `items.py` sit beside them; `commands/` holds the `crawl` command.
"""

# The project's version: setup.py packages it, the run history records it.
__version__ = "1.0.0"

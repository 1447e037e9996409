"""Programs beside the project that are not tests: the local replica of the site, a real
MapServer as a second WFS server, a Scrapyd runner, the benchmark and the offline demo.
They may import `lapaz` and `postprocess`; the tests import them."""

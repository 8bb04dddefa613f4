"""The AstrOmatic layer: one tool registry, argv built once, the ``run_*`` steps, XML logs and
summaries, LDAC catalogs, diagnosis of failures. Imports only :mod:`aw_tui.base`."""

import logging

# A library's loggers stay silent unless the application configures logging (no "last
# resort" lines on stderr, which would garble the TUI and --batch output).
logging.getLogger("aw_tui.astromatic").addHandler(logging.NullHandler())

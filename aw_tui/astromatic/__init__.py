"""The AstrOmatic layer: one tool registry, argv built once, the ``run_*`` steps, XML logs and
summaries, LDAC catalogs, diagnosis of failures. Imports only :mod:`aw_tui.base`."""

"""The run directory (``docs/run-directory.md``): its layout, writer, journal reader, state
fold, checkpoint, lock and control requests. Imports only :mod:`aw_tui.base`."""

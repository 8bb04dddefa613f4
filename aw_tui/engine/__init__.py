"""The seed's run loop: steps, signals, errors, and the executors (serial, threads, Dask).

Imports only :mod:`aw_tui.rundir` and :mod:`aw_tui.base`; it calls step functions through the
pipeline and never imports a tool, a project file or the TUI.
"""

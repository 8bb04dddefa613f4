"""The ``aw-tui`` command: the TUI, ``--batch``, ``check``, ``status``, ``demo``, ``doctor``."""

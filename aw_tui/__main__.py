"""``python -m aw_tui`` is the same as the ``aw-tui`` command."""

import sys

from aw_tui.cli.main import main

if __name__ == "__main__":
    sys.exit(main())

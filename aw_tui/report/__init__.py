"""What a run produced, as data and as a page: the results table (``aw-tui results``)."""

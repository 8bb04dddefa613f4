"""The Textual app: a view of run directories that also launches runners."""

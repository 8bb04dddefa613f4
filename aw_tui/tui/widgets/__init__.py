"""The TUI's widgets: the step table, the output pane, the key bar."""

"""Reports of a run: terminal text now; Markdown, JSON and HTML grow here."""

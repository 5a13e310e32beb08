"""The read side: feeds, pages and media for readers and partners. It never writes content."""

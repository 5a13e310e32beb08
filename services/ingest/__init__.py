"""The write side: HTTP API, importers, and the outbox relay."""

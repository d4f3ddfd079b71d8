"""Docent's HTTP API over the same chain, stores and index as the app (`docent api`; api.app.create_app)."""

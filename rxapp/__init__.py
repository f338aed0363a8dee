"""API key console: a Reflex app, its HTTP API and the service layer they share."""

# The one place the version lives: pyproject.toml reads it, /api/v1/health and the footer show it.
__version__ = "1.1.0"

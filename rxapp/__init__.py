"""API key console: a Reflex app, its HTTP API and the service layer they share."""

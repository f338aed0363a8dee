"""The service layer: plain functions taking a session. The only code that knows the rules.

Nothing here imports Reflex, so every rule is testable without a browser or a server.
"""

"""Consent data from outside the stream: opt-out imports, keyword configuration files."""

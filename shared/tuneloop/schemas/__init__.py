"""Marshmallow schemas for every request, response and stage payload."""

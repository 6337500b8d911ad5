"""Trainers of the built-in model kinds (registered in tuneloop.agent.registry)."""

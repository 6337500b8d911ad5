"""Local tooling: start the stack as processes, run the demo."""

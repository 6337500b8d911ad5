"""OpenAI-compatible routes: fine-tuning jobs, files and chat, in OpenAI's error shape."""

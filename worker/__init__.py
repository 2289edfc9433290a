"""Celery tasks, the inference pipeline, and model pack handling."""

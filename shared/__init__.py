"""Code that both the API and the worker import: settings, schemas, the Redis store, hashing."""

"""Callbacks, the one home of the concern: which URLs may be called (`addresses`, checked by the API
at submit and by the worker before each delivery), Standard Webhooks signing (`signing`), and
delivery with its deadline and backoff (`delivery`, run by the worker's `callbacks` queue)."""

"""Benchmarks: accuracy on ../shared/eval, pipeline speed against its parts, the peer package,
the service against the in-process pipeline, worker start-up. Each prints tables and writes JSON
to bench/results/; none is a test."""

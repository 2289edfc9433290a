"""Benchmarks, grouped by the question they answer: `accuracy/` (how right), `speed/` (how fast,
and what memory and storage it costs), `faults/` (what survives load, abuse and failover),
`calibration/` (where the shipped constants come from). Each prints tables and writes JSON to
bench/results/; none is a test. Shared: `common` (tables, results), `stack` (a local service),
`engine_variants` (the engines compared)."""

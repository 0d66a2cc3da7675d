"""The functional core: pure rules and incremental aggregates, no Faust, Kafka or Prometheus.

Modules, in import order: `errors`, `codec`, `money` (SPEC 3.4 conversion), `facts`,
`calendar`, `outcome`, `subscription` and `quotas` (per-key state machines),
`contribution` (a deal's timed deltas), `store` (series tallies by cohort),
`partition` (one partition's aggregates), `snapshot` (the scrape result) and
`aggregates` (every partition a worker owns).
"""

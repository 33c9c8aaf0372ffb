"""KPIs kept incrementally as events happen (SPEC §8): counters, the portfolio's level, GET /v1/kpis."""

"""KPIs computed from a contract ledger on DuckDB (or inside PostgreSQL or Spark), under governed options.

Entry points for the server: `compute_from_ledger` (a value, or one member with `where`),
`compute_cuts_from_ledger` (`group_by`), `compute_series_from_ledger` (many periods in one pass),
all in `engine`, and `DatasetRegistry.from_cli`. The SQL is written once for DuckDB; `dialect` translates
it and `remote` runs it in a PostgreSQL or Spark session.
"""

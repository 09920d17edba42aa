"""KPIs computed from a contract ledger on DuckDB, under governed options.

Entry points for the server: `compute_from_ledger` and `DatasetRegistry.from_cli`.
"""

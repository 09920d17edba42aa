"""KPI Context Server: governed SaaS KPIs for LLM assistants.

The distribution maps the repository's `ontology/`, `tools/` and `server/` folders
under this package so that nothing generic is claimed at the top level.
"""

__version__ = "0.1.0"

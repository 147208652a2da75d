"""The admin home page ("the booth's day at a glance") and the sales report.

`selectors` reads the figures (a fixed number of queries, tenancy-scoped through
marketplace.tenancy), `callback` turns them into the dashboard's context (UNFOLD
["DASHBOARD_CALLBACK"]), `views` serves the sales report (CSV/XLSX) and the per-user admin links.
"""

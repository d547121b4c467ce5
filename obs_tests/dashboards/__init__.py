"""Grafana dashboards without Grafana: the JSON read into panels and queries, template variables and
macros expanded as Grafana does, and (with a Grafana) the panels read in a real browser."""

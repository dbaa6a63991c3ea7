"""alertsieve's SLOs as code: Prometheus and Grafana alert rules, Grafana 11 dashboards, push to Grafana.

Nothing here runs inside the service; it reads ``alertsieve.metric_names`` (the metric contract)
and never imports Ray or serve_app. Entry points: ``dashboards.cli.dashboards_app`` (CLI),
``dashboards.generate.generate`` (write every artefact), ``dashboards.build.all_panel_queries``
(every panel's PromQL, for integration tests) and ``dashboards.push.push_dashboards``.
"""

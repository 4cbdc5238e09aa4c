"""`syncd run` as a service: scheduler, leases, process signals, sd_notify, structured logs,
Prometheus metrics, status and doctor (issue 7).

Modules: ``plan`` (pure scheduling decisions), ``leases`` (the database as coordinator),
``scheduler`` (the loop), ``daemon`` (process wiring: signals, sd_notify, logs, metrics),
``sdnotify``, ``logjson``, ``metrics``, ``writer_lock`` (SQLite: one writer process),
``status`` and ``doctor``; ``nochange`` (a quiet poll's fast path, also used by
`syncd.sync`).
"""

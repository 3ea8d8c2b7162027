"""Operations: structured logs, health and readiness, Prometheus metrics, performance page.

`logging` is imported while Django configures logging, before the apps are ready, so it
imports no models; the other modules load with the URLs and middleware.
"""

"""`syncd serve`: the public HTTP endpoint (Starlette, served by uvicorn).

Routes: ``/o/<token>.gif`` (open pixel), ``/c/<token>`` (click), ``/f/<form>`` (hosted form,
GET and POST), ``/healthz``, ``/metrics``. Modules: ``app`` (routes), ``forms_view`` (HTML),
``ratelimit`` (per-IP windows).
"""

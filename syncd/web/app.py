"""The Starlette application behind `syncd serve`.

Database work is synchronous SQLAlchemy, run in Starlette's thread pool, one short
transaction per request. Answers never reveal whether a token was genuine except where the
issue wants it (a bad link is a 404; the pixel is always the pixel).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Route

from syncd.app import App
from syncd.config import ConfigError
from syncd.forms.definitions import FormDef
from syncd.forms.submit import submit
from syncd.forms.validate import MESSAGES, honeypot_filled, validate
from syncd.store.db import session_scope
from syncd.tracking.classify import ip_class
from syncd.tracking.mailer import signer
from syncd.tracking.record import record_hit, rules_from
from syncd.tracking.tokens import TokenSigner
from syncd.web.forms_view import render_form
from syncd.web.ratelimit import RateLimiter
from syncd.workflows.metrics import (
    CLICKS,
    FORM_SUBMISSIONS,
    OPENS,
    TRACKING_REJECTED,
    RunStatusCollector,
)

log = logging.getLogger(__name__)

# The smallest transparent GIF (1x1, 43 bytes).
PIXEL = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c000000000100010000020144003b")
NO_CACHE = {"Cache-Control": "no-store, no-cache, must-revalidate, max-age=0, private",
            "Pragma": "no-cache", "Expires": "0"}
_COLLECTORS: dict[int, RunStatusCollector] = {}


class _TooLarge(Exception):
    pass


def _client(request: Request) -> str:
    """The peer address. Behind a reverse proxy (`[web] trust_forwarded_for`), uvicorn's
    proxy-headers support has already put the client's address here, taking X-Forwarded-For
    only from trusted proxies ($FORWARDED_ALLOW_IPS, default 127.0.0.1): the header's
    left-most entry is whatever the client wrote, so it is never read directly."""
    return request.client.host if request.client else ""


class Endpoints:
    def __init__(self, app: App, forms: dict[str, FormDef],
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.app = app
        self.forms = forms
        self.now = now
        conf = app.settings.web
        self.web = conf
        self.rules = rules_from(app.settings.tracking)
        self.form_limit = RateLimiter(conf.form_posts_per_minute)
        self.track_limit = RateLimiter(conf.tracking_hits_per_minute)
        try:
            self.signer: TokenSigner | None = signer(app.settings)
        except ConfigError as exc:
            # Forms still work; every token is then "not genuine".
            log.warning("tracking disabled: %s", "; ".join(exc.problems))
            self.signer = None
        base = urlsplit(app.settings.tracking.public_base_url)
        self.public_origin = f"{base.scheme}://{base.netloc}".lower()

    # ---- tracking ------------------------------------------------------------------------

    async def pixel(self, request: Request) -> Response:
        token = request.path_params["token"].removesuffix(".gif")
        claim = self.signer.verify(token) if self.signer else None
        ip = _client(request)
        if claim is None or claim.kind != "open":
            TRACKING_REJECTED.labels("bad_token").inc()
        elif self.track_limit.hit(ip) is not None:
            TRACKING_REJECTED.labels("rate_limited").inc()
        elif request.method == "GET":
            ua = request.headers.get("user-agent", "")
            try:
                got = await run_in_threadpool(self._record, claim, ua, ip_class(ip))
                if got is not None:
                    OPENS.labels(str(got).lower()).inc()
            except Exception:  # the pixel answers whatever happens to the store
                log.exception("recording an open failed")
        return Response(PIXEL, media_type="image/gif", headers=NO_CACHE)

    def _record(self, claim: Any, ua: str, cls: str) -> bool | None:
        with session_scope(self.app.sessions) as s:
            got = record_hit(s, claim, ua, cls, self.now(), self.rules)
            return None if got is None else got[1].machine

    async def click(self, request: Request) -> Response:
        token = request.path_params["token"]
        claim = self.signer.verify(token) if self.signer else None
        if claim is None or claim.kind != "click" or not claim.url or not claim.url.lower(
                ).startswith(("http://", "https://")):
            TRACKING_REJECTED.labels("bad_token").inc()
            return HTMLResponse("<!doctype html><title>Lien invalide</title><p>Ce lien n'est pas "
                                "valide. / This link is not valid.</p>", status_code=404,
                                headers=NO_CACHE)
        ip = _client(request)
        retry = self.track_limit.hit(ip)
        if retry is not None:
            TRACKING_REJECTED.labels("rate_limited").inc()
            return PlainTextResponse("Too many requests", status_code=429,
                                     headers={"Retry-After": str(int(retry) + 1)})
        if request.method == "GET":  # link checkers send HEAD: answered, not recorded
            ua = request.headers.get("user-agent", "")
            try:
                got = await run_in_threadpool(self._record, claim, ua, ip_class(ip))
                if got is not None:
                    CLICKS.labels(str(got).lower()).inc()
            except Exception:
                log.exception("recording a click failed")
        # Only ever the URL signed into the token: query strings on /c/ are ignored.
        return RedirectResponse(claim.url, status_code=302, headers=NO_CACHE)

    # ---- forms ---------------------------------------------------------------------------

    def _form(self, request: Request) -> FormDef | None:
        return self.forms.get(request.path_params["form"])

    def _origin_ok(self, request: Request, form: FormDef) -> bool:
        origin = request.headers.get("origin")
        if origin is None:
            return True  # not a browser cross-site post (curl, a server-side integration)
        origin = origin.lower()
        own = f"{request.url.scheme}://{request.headers.get('host', '')}".lower()
        return origin in (self.public_origin, own) or origin in form.allowed_origins

    def _frame_headers(self, form: FormDef) -> dict[str, str]:
        ancestors = " ".join(["'self'", *form.allowed_origins])
        return {"Content-Security-Policy": f"frame-ancestors {ancestors}",
                "X-Content-Type-Options": "nosniff", **NO_CACHE}

    def _cors(self, request: Request, form: FormDef) -> dict[str, str]:
        origin = request.headers.get("origin", "").lower()
        if origin and origin in form.allowed_origins:
            return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
        return {}

    async def form_page(self, request: Request) -> Response:
        form = self._form(request)
        if form is None:
            return PlainTextResponse("No such form", status_code=404)
        return HTMLResponse(render_form(form, form.name),
                            headers=self._frame_headers(form))

    async def form_options(self, request: Request) -> Response:
        form = self._form(request)
        if form is None:
            return PlainTextResponse("No such form", status_code=404)
        cors = self._cors(request, form)
        if not cors:
            return PlainTextResponse("Origin not allowed", status_code=403)
        return Response(status_code=204, headers={
            **cors, "Access-Control-Allow-Methods": "POST",
            "Access-Control-Allow-Headers": "Content-Type", "Access-Control-Max-Age": "600"})

    async def _read_body(self, request: Request) -> bytes:
        limit = self.web.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            raise _TooLarge
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _TooLarge
            chunks.append(chunk)
        return b"".join(chunks)

    async def form_post(self, request: Request) -> Response:
        form = self._form(request)
        if form is None:
            return PlainTextResponse("No such form", status_code=404)
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        wants_json = ctype == "application/json" or "application/json" in request.headers.get(
            "accept", "")
        msg = MESSAGES[form.lang]
        cors = self._cors(request, form)

        def fail(status: int, reason: str, text: str, errors: dict[str, str] | None = None,
                 values: dict[str, Any] | None = None, extra: dict[str, str] | None = None
                 ) -> Response:
            FORM_SUBMISSIONS.labels(form.name, reason).inc()
            headers = {**cors, **(extra or {})}
            if wants_json:
                body: dict[str, Any] = {"error": text}
                if errors:
                    body["errors"] = errors
                return JSONResponse(body, status_code=status, headers=headers)
            if errors:
                return HTMLResponse(render_form(form, form.name, values, errors),
                                    status_code=status,
                                    headers={**self._frame_headers(form), **headers})
            return PlainTextResponse(text, status_code=status, headers=headers)

        if not self._origin_ok(request, form):
            return fail(403, "bad_origin", "This site may not post to this form.")
        ip = _client(request)
        retry = self.form_limit.hit(f"{form.name}|{ip}")
        if retry is not None:
            return fail(429, "rate_limited", "Too many submissions; try again later.",
                        extra={"Retry-After": str(int(retry) + 1)})
        if ctype not in ("application/x-www-form-urlencoded", "application/json"):
            return fail(415, "bad_type", "Send application/x-www-form-urlencoded or "
                        "application/json.")
        try:
            raw = await self._read_body(request)
        except _TooLarge:
            return fail(413, "too_large", f"The submission is larger than "
                        f"{self.web.max_body_bytes} bytes.")
        parsed = self._parse(raw, ctype)
        if isinstance(parsed, str):
            return fail(400, "malformed", parsed)
        data, repeated = parsed
        if honeypot_filled(form, data):
            return fail(400, "honeypot", "The submission was refused.")
        outcome = validate(form, data, repeated)
        if not outcome.ok:
            return fail(422, "invalid", msg["summary"], outcome.errors,
                        {k: v for k, v in data.items() if isinstance(v, str)})
        policy = self.app.policy
        now = self.now()

        def store() -> None:
            with session_scope(self.app.sessions) as s:
                submit(s, form, outcome.values, ip_class(ip), policy, now)

        await run_in_threadpool(store)
        FORM_SUBMISSIONS.labels(form.name, "accepted").inc()
        if wants_json:
            return JSONResponse({"status": "received"}, status_code=201, headers=cors)
        if form.redirect_url:
            return RedirectResponse(form.redirect_url, status_code=303)
        return HTMLResponse(render_form(form, form.name,
                                        thanks=form.success_message or msg["thanks"]),
                            status_code=200, headers=self._frame_headers(form))

    @staticmethod
    def _parse(raw: bytes, ctype: str) -> tuple[dict[str, Any], frozenset[str]] | str:
        """(data, keys given twice) or a message saying what is wrong with the body."""
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError:
            return "The body is not UTF-8."
        if ctype == "application/json":
            try:
                data = json.loads(body) if body.strip() else None
            except ValueError:
                return "The body is not valid JSON."
            if not isinstance(data, dict):
                return "Send a JSON object of field names to values."
            return {str(k): v for k, v in data.items()}, frozenset()
        try:
            pairs = parse_qsl(body, keep_blank_values=True, strict_parsing=bool(body),
                              max_num_fields=200)
        except ValueError:
            return "The body is not a valid form encoding."
        data_: dict[str, Any] = {}
        repeated: set[str] = set()
        for key, value in pairs:
            if key in data_:
                repeated.add(key)
            data_[key] = value
        return data_, frozenset(repeated)

    # ---- operations ----------------------------------------------------------------------

    async def healthz(self, request: Request) -> Response:
        def check() -> None:
            with self.app.sessions() as s:
                s.execute(text("SELECT 1"))

        try:
            await run_in_threadpool(check)
        except Exception as exc:
            return JSONResponse({"status": "error", "database": type(exc).__name__},
                                status_code=503)
        return JSONResponse({"status": "ok", "forms": sorted(self.forms),
                             "tracking": self.signer is not None})

    async def metrics(self, request: Request) -> Response:
        data = await run_in_threadpool(generate_latest, REGISTRY)
        return Response(data, media_type=CONTENT_TYPE_LATEST)


def create_app(app: App, forms: dict[str, FormDef],
               now: Callable[[], datetime] | None = None) -> Starlette:
    """The ASGI application. Registers the run-status collector on the default registry
    (once per App)."""
    ep = Endpoints(app, forms, now or (lambda: datetime.now(UTC)))
    if id(app) not in _COLLECTORS:
        collector = RunStatusCollector(app.sessions)
        REGISTRY.register(collector)
        _COLLECTORS[id(app)] = collector
    routes = [
        Route("/o/{token:path}", ep.pixel, methods=["GET"]),
        Route("/c/{token:path}", ep.click, methods=["GET"]),
        Route("/f/{form}", ep.form_page, methods=["GET"]),
        Route("/f/{form}", ep.form_post, methods=["POST"]),
        Route("/f/{form}", ep.form_options, methods=["OPTIONS"]),
        Route("/healthz", ep.healthz, methods=["GET"]),
        Route("/metrics", ep.metrics, methods=["GET"]),
    ]
    return Starlette(routes=routes)


def unregister(app: App) -> None:
    """Drop the App's collector from the default registry (tests build several Apps)."""
    collector = _COLLECTORS.pop(id(app), None)
    if collector is not None:
        REGISTRY.unregister(collector)

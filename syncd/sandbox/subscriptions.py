"""Change notifications: ``/subscriptions`` and webhook delivery.

* Create subscription (``POST /subscriptions``): validates the resource, changeType,
  clientState (<= 128 chars) and expirationDateTime (<= the configured maximum, default
  4,230 minutes for Outlook resources), then runs the validation handshake: a POST to
  ``notificationUrl?validationToken=...`` that must answer 200, text/plain, the token echoed,
  within 10 s (includes/change-notifications-delivery-notificationurl-validation.md).
  Real Graph wants https; the sandbox delivers to http or https **loopback** URLs only.
* Get / list / update (renew: PATCH expirationDateTime) / delete subscription.
* Delivery: a background thread POSTs ``{"value": [notification]}`` for every matching
  message or event change, with ``clientState``; `deliveries` records each attempt.
* `fire_lifecycle` sends a lifecycle event (``missed``, ``subscriptionRemoved``,
  ``reauthorizationRequired``) to ``lifecycleNotificationUrl``.
"""

from __future__ import annotations

import http.client
import json
import queue
import re
import secrets
import ssl
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

from syncd.sandbox.graph_common import Ctx, Services, require
from syncd.sandbox.ids import iso_7z, parse_iso
from syncd.sandbox.state import ChangeNotice
from syncd.sandbox.wire import ApiResponse, GraphError, json_response

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_CHANGE_TYPES = {"created", "updated", "deleted"}
_MESSAGES = re.compile(
    r"^/?(?:users/(?P<u>[^/]+)|me)/(?:mailfolders(?:\('(?P<f1>[^']+)'\)|/(?P<f2>[^/]+))/)?messages/?$",
    re.IGNORECASE,
)
_EVENTS = re.compile(r"^/?(?:users/(?P<u>[^/]+)|me)/(?:calendar/)?events/?$", re.IGNORECASE)
_CALLS = re.compile(r"^/?communications/callrecords/?$", re.IGNORECASE)


@dataclass(slots=True)
class Subscription:
    id: str
    resource: str
    kind: str  # message / event / callRecord
    owner: str | None
    folder_id: str | None  # messages in one folder, or None for the whole mailbox
    change_types: frozenset[str]
    notification_url: str
    lifecycle_url: str | None
    client_state: str | None
    expires: datetime
    application_id: str
    creator_id: str

    def graph(self, graph_url: str | None = None) -> dict[str, Any]:
        """The subscription resource (subscription-get docs sample)."""
        item: dict[str, Any] = {}
        if graph_url:
            item["@odata.context"] = f"{graph_url}$metadata#subscriptions/$entity"
        item.update(
            {
                "id": self.id,
                "resource": self.resource,
                "applicationId": self.application_id,
                "changeType": ",".join(sorted(self.change_types)),
                "clientState": self.client_state,
                "notificationUrl": self.notification_url,
                "notificationQueryOptions": None,
                "lifecycleNotificationUrl": self.lifecycle_url,
                "expirationDateTime": iso_7z(self.expires),
                "creatorId": self.creator_id,
                "includeResourceData": False,
                "latestSupportedTlsVersion": "v1_2",
                "encryptionCertificate": None,
                "encryptionCertificateId": None,
                "notificationUrlAppId": None,
                "notificationContentType": "application/json",
            }
        )
        return item


@dataclass(frozen=True, slots=True)
class Delivery:
    """One POST to a notification URL (for tests and the CLI log)."""

    subscription_id: str
    url: str
    payload: dict[str, Any]
    status: int | None  # None: the endpoint could not be reached
    error: str = ""


def _post(url: str, body: bytes, content_type: str, timeout: float) -> tuple[int, str, str]:
    """POST to a loopback URL: (status, content type, body). https is accepted without
    certificate checks (loopback only)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        connection = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
    else:
        connection = http.client.HTTPConnection(host, port, timeout=timeout)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    try:
        connection.request("POST", path, body=body, headers={"Content-Type": content_type})
        response = connection.getresponse()
        content_type = response.getheader("Content-Type") or ""
        return response.status, content_type, response.read().decode("utf-8", "replace")
    finally:
        connection.close()


class SubscriptionManager:
    def __init__(
        self, services: Services, *, max_minutes: int = 4230, validation_timeout: float = 10.0
    ) -> None:
        self.services = services
        self.max_minutes = max_minutes
        self.validation_timeout = validation_timeout
        self.delivery_timeout = 3.0  # Graph expects a 2xx within 3 s
        self.subscriptions: dict[str, Subscription] = {}
        self.deliveries: list[Delivery] = []
        self._lock = threading.Lock()
        self._queue: queue.Queue[tuple[Subscription, str, dict[str, Any]] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        services.state.add_listener(self._on_change)

    # ---- lifecycle of the delivery thread ------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._deliver_loop, name="sandbox-notify", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=5)
            self._thread = None

    def _deliver_loop(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            sub, url, payload = job
            try:
                status, _, _ = _post(
                    url, json.dumps(payload).encode(), "application/json", self.delivery_timeout
                )
                record = Delivery(sub.id, url, payload, status)
            except OSError as exc:
                record = Delivery(sub.id, url, payload, None, str(exc))
            with self._lock:
                self.deliveries.append(record)

    # ---- notifications -------------------------------------------------------------------

    def _on_change(self, notice: ChangeNotice) -> None:
        # Runs under the state lock: only match and enqueue, never block.
        if not self.subscriptions:
            return
        now = datetime.now(UTC)
        for sub in list(self.subscriptions.values()):
            if (
                sub.expires <= now
                or notice.change_type not in sub.change_types
                or sub.kind != notice.resource
            ):
                continue
            if sub.owner is not None and sub.owner != notice.owner:
                continue
            if sub.folder_id is not None and sub.folder_id != notice.container_id:
                continue
            self._queue.put((sub, sub.notification_url, self._notification(sub, notice)))

    def _notification(self, sub: Subscription, notice: ChangeNotice) -> dict[str, Any]:
        state = self.services.state
        tenant_id = state.tenant_id
        if notice.resource == "callRecord":
            resource = f"communications/callRecords/{notice.item_id}"
            odata_type = "#Microsoft.Graph.callRecord"
        else:
            user = state.user(notice.owner or "")
            user_id = user.id if user else notice.owner
            plural = "Messages" if notice.resource == "message" else "Events"
            resource = f"Users/{user_id}/{plural}/{notice.item_id}"
            odata_type = f"#Microsoft.Graph.{notice.resource.capitalize()}"
        data: dict[str, Any] = {
            "@odata.type": odata_type,
            "@odata.id": resource,
            "id": notice.item_id,
        }
        if notice.etag:
            data["@odata.etag"] = f'W/"{notice.etag}"'
        return {
            "value": [
                {
                    "id": str(uuid.uuid4()),  # changeNotification.id: optional, unique
                    "subscriptionId": sub.id,
                    "subscriptionExpirationDateTime": iso_7z(sub.expires),
                    "changeType": notice.change_type,
                    "resource": resource,
                    "resourceData": data,
                    "clientState": sub.client_state,
                    "tenantId": tenant_id,
                }
            ]
        }

    def fire_lifecycle(self, subscription_id: str, event: str) -> None:
        """Queue a lifecycle notification (``missed``, ``subscriptionRemoved``,
        ``reauthorizationRequired``) to the subscription's lifecycle URL.

        Raises: KeyError for an unknown subscription, ValueError when it has no lifecycle URL.
        """
        sub = self.subscriptions[subscription_id]
        if not sub.lifecycle_url:
            raise ValueError("subscription has no lifecycleNotificationUrl")
        payload = {
            "value": [
                {
                    "subscriptionId": sub.id,
                    "subscriptionExpirationDateTime": iso_7z(sub.expires),
                    "tenantId": self.services.state.tenant_id,
                    "clientState": sub.client_state,
                    "lifecycleEvent": event,
                }
            ]
        }
        if event == "subscriptionRemoved":
            with self._lock:
                self.subscriptions.pop(sub.id, None)
        self.start()
        self._queue.put((sub, sub.lifecycle_url, payload))

    # ---- HTTP ----------------------------------------------------------------------------

    def _parse_resource(self, ctx: Ctx, resource: str) -> tuple[str, str | None, str | None]:
        state = self.services.state
        for kind, pattern in (("message", _MESSAGES), ("event", _EVENTS), ("callRecord", _CALLS)):
            match = pattern.match(resource)
            if not match:
                continue
            if kind == "callRecord":
                require(ctx, roles=("CallRecords.Read.All",), scopes=())
                return kind, None, None
            ref = match.group("u") or ctx.token.user or ""
            user = state.user(ref.strip("'"))
            if user is None:
                raise GraphError(404, "ErrorInvalidUser", f"The requested user '{ref}' is invalid.")
            if not ctx.token.app_only and ctx.token.user != user.email:
                raise GraphError(
                    403, "ErrorAccessDenied", "Access is denied. Check credentials and try again."
                )
            if kind == "message":
                require(
                    ctx,
                    roles=("Mail.Read", "Mail.ReadWrite", "Mail.ReadBasic.All"),
                    scopes=("Mail.Read", "Mail.ReadWrite"),
                )
                folder_ref = match.group("f1") or match.group("f2")
                folder_id = None
                if folder_ref:
                    folder = state.mailboxes[user.email].folder(folder_ref)
                    if folder is None:
                        raise GraphError(
                            404, "ErrorItemNotFound", "The specified folder was not found."
                        )
                    folder_id = folder.id
                return kind, user.email, folder_id
            require(
                ctx,
                roles=("Calendars.Read", "Calendars.ReadWrite"),
                scopes=("Calendars.Read", "Calendars.ReadWrite"),
            )
            return kind, user.email, None
        raise GraphError(
            400, "InvalidRequest", f"Resource '{resource}' is not supported by the sandbox."
        )

    def _expiry(self, value: Any) -> datetime:
        try:
            when = parse_iso(str(value))
        except ValueError as exc:
            raise GraphError(
                400, "InvalidRequest", f"Invalid expirationDateTime '{value}'."
            ) from exc
        now = datetime.now(UTC)
        if when <= now:
            raise GraphError(
                400, "InvalidRequest", "Subscription expiration must be in the future."
            )
        if when > now + timedelta(minutes=self.max_minutes):
            raise GraphError(
                400,
                "InvalidRequest",
                f"Subscription expiration can only be {self.max_minutes} minutes in the future.",
            )
        return when

    def _validate_url(self, url: Any, name: str) -> str:
        parts = urlsplit(str(url or ""))
        if parts.scheme not in ("http", "https") or (parts.hostname or "") not in _LOOPBACK:
            raise GraphError(
                400,
                "InvalidRequest",
                f"{name} must be an http(s) URL on the loopback interface in the sandbox.",
            )
        return str(url)

    def _handshake(self, url: str) -> None:
        token = secrets.token_urlsafe(24)
        sep = "&" if "?" in url else "?"
        try:
            status, content_type, text = _post(
                f"{url}{sep}validationToken={quote(token)}",
                b"",
                "text/plain",
                self.validation_timeout,
            )
        except OSError as exc:  # refused, or no answer within validation_timeout (10 s)
            raise _validation_error(f"the endpoint was unreachable ({exc})") from exc
        if status != 200 or not content_type.startswith("text/plain") or text != token:
            raise _validation_error(
                f"it answered {status} {content_type!r}, not 200 text/plain with the token"
            )

    def create(self, ctx: Ctx) -> ApiResponse:
        """Create subscription (``POST /subscriptions``): 201 with the subscription."""
        body = ctx.req.json()
        if not isinstance(body, dict):
            raise GraphError(
                400, "InvalidRequest", "The request body must be a subscription object."
            )
        resource = str(body.get("resource") or "")
        kind, owner, folder_id = self._parse_resource(ctx, resource)
        change_types = frozenset(
            c.strip() for c in str(body.get("changeType") or "").split(",") if c.strip()
        )
        if not change_types or not change_types <= _CHANGE_TYPES:
            raise GraphError(
                400, "InvalidRequest", f"Invalid changeType '{body.get('changeType')}'."
            )
        client_state = body.get("clientState")
        if client_state is not None and len(str(client_state)) > 128:
            raise GraphError(400, "InvalidRequest", "clientState must be at most 128 characters.")
        expires = self._expiry(body.get("expirationDateTime"))
        url = self._validate_url(body.get("notificationUrl"), "notificationUrl")
        lifecycle = body.get("lifecycleNotificationUrl")
        if lifecycle:
            lifecycle = self._validate_url(lifecycle, "lifecycleNotificationUrl")
        self._handshake(url)
        if lifecycle:
            self._handshake(lifecycle)
        sub = Subscription(
            id=str(uuid.uuid4()),
            resource=resource,
            kind=kind,
            owner=owner,
            folder_id=folder_id,
            change_types=change_types,
            notification_url=url,
            lifecycle_url=lifecycle or None,
            client_state=None if client_state is None else str(client_state),
            expires=expires,
            application_id=ctx.token.client_id,
            creator_id=self._creator(ctx),
        )
        with self._lock:
            self.subscriptions[sub.id] = sub
        self.start()
        return json_response(sub.graph(self.services.graph_url), 201)

    def _creator(self, ctx: Ctx) -> str:
        user = self.services.state.user(ctx.token.user) if ctx.token.user else None
        return user.id if user else ctx.token.client_id

    def _find(self, ctx: Ctx) -> Subscription:
        sub = self.subscriptions.get(ctx.args[0])
        if (
            sub is None
            or sub.application_id != ctx.token.client_id
            or sub.expires <= datetime.now(UTC)
        ):
            raise GraphError(
                404, "ResourceNotFound", f"The object was not found: subscription '{ctx.args[0]}'."
            )
        return sub

    def get(self, ctx: Ctx) -> ApiResponse:
        """Get subscription."""
        return json_response(self._find(ctx).graph(self.services.graph_url))

    def list_all(self, ctx: Ctx) -> ApiResponse:
        """List subscriptions (those of the calling app)."""
        now = datetime.now(UTC)
        items = [
            s.graph()
            for s in self.subscriptions.values()
            if s.application_id == ctx.token.client_id and s.expires > now
        ]
        return json_response(
            {"@odata.context": f"{self.services.graph_url}$metadata#subscriptions", "value": items}
        )

    def update(self, ctx: Ctx) -> ApiResponse:
        """Update subscription (renew: ``PATCH {"expirationDateTime": ...}``)."""
        sub = self._find(ctx)
        body = ctx.req.json()
        if not isinstance(body, dict) or set(body) - {"expirationDateTime", "notificationUrl"}:
            raise GraphError(
                400, "InvalidRequest", "Only expirationDateTime and notificationUrl can be updated."
            )
        if "expirationDateTime" in body:
            sub.expires = self._expiry(body["expirationDateTime"])
        if "notificationUrl" in body:
            url = self._validate_url(body["notificationUrl"], "notificationUrl")
            self._handshake(url)
            sub.notification_url = url
        return json_response(sub.graph(self.services.graph_url))

    def delete(self, ctx: Ctx) -> ApiResponse:
        """Delete subscription: 204."""
        sub = self._find(ctx)
        with self._lock:
            self.subscriptions.pop(sub.id, None)
        return ApiResponse(204)


def _validation_error(detail: str) -> GraphError:
    return GraphError(
        400,
        "ValidationError",
        "Subscription validation request failed. Notification endpoint must respond with 200 OK "
        f"to validation request: {detail}.",
    )

"""The only code that speaks GOWA's HTTP API (see shared/gowa/NOTES.md).

Everything GOWA-specific stays here: basic auth, ``X-Device-Id``, the ``{code, message, results}``
envelope, its string error codes and quirks, and the QR PNG that must be fetched server-side.
Callers get plain Python values or a ``GowaError`` whose ``transient`` flag says whether a retry
can help.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from django.conf import settings

from .models import GowaNode

logger = logging.getLogger(__name__)

_local = threading.local()


class GowaError(Exception):
    """GOWA refused or failed. ``code`` is GOWA's string code (or ours for transport failures)."""

    transient = False

    def __init__(
        self, code: str, message: str, *, http_status: int | None = None, results: Any = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.http_status = http_status
        self.results = results


class GowaTransientError(GowaError):
    """Timeouts, connection failures and 5xx: worth retrying with back-off."""

    transient = True


class GowaDeviceNotLoggedIn(GowaError):
    """401 AUTHENTICATION_ERROR: the WhatsApp session is not logged in (not an API-auth problem)."""


class GowaReachoutTimelock(GowaError):
    """429 WA_REACHOUT_TIMELOCK: WhatsApp's anti-spam block on new chats; pause the device."""


class GowaDeviceMissing(GowaError):
    """The slot does not exist on the node (GOWA answers 500 "device X not found" or 404)."""


class GowaAuthFailed(GowaError):
    """Our basic-auth credentials for the node are wrong: an operator problem."""


@dataclass(frozen=True)
class QrLogin:
    png: bytes
    duration_seconds: int

    @property
    def data_url(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode()


@dataclass(frozen=True)
class SendResult:
    message_id: str
    status: str


def _session() -> requests.Session:
    session = getattr(_local, "session", None)
    if session is None:
        session = requests.Session()
        _local.session = session
    return session


def _record_for_contract_test(prepared: requests.PreparedRequest) -> None:
    """With GOWA_CONTRACT_LOG set (tests), log each request to check it against GOWA's openapi.yaml."""
    path = os.environ.get("GOWA_CONTRACT_LOG")
    if not path:
        return
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode()
    entry = {
        "method": prepared.method,
        "url": prepared.url,
        "content_type": prepared.headers.get("Content-Type", ""),
        "headers": {k: v for k, v in prepared.headers.items() if k.lower() == "x-device-id"},
        "body": base64.b64encode(body).decode(),
    }
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry) + "\n")


class GowaClient:
    def __init__(self, node: GowaNode, *, timeout: float | None = None) -> None:
        self.node = node
        self.base_url = node.base_url.rstrip("/")
        self.timeout = timeout if timeout is not None else settings.GOWA_TIMEOUT_SECONDS
        self.auth = (node.basic_auth_username, node.basic_auth_password) if node.basic_auth_username else None

    # --- transport ---------------------------------------------------------------------------
    def _request(
        self,
        method: str,
        path: str,
        *,
        device_id: str | None = None,
        json_body: Any = None,
        params: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        files: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Any:
        headers = {"Accept": "application/json"}
        if device_id is not None:
            headers["X-Device-Id"] = quote(device_id, safe="")
        request = requests.Request(
            method,
            self.base_url + path,
            headers=headers,
            json=json_body,
            params=params,
            data=data,
            files=files,
            auth=self.auth,
        )
        prepared = _session().prepare_request(request)
        _record_for_contract_test(prepared)
        try:
            response = _session().send(prepared, timeout=timeout or self.timeout)
        except requests.Timeout as exc:
            raise GowaTransientError("TIMEOUT", f"GOWA did not answer in time: {exc}") from exc
        except requests.RequestException as exc:
            raise GowaTransientError(
                "CONNECTION_ERROR", f"Cannot reach GOWA node {self.node.name}: {exc}"
            ) from exc
        return self._parse(response)

    def _parse(self, response: requests.Response) -> Any:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            if response.status_code == 401:
                raise GowaAuthFailed(
                    "GOWA_AUTH_FAILED", "GOWA rejected Wavora's basic-auth credentials", http_status=401
                )
            if response.status_code >= 500 or response.status_code in (408, 429):
                raise GowaTransientError(
                    "UPSTREAM_ERROR",
                    f"GOWA answered HTTP {response.status_code}",
                    http_status=response.status_code,
                )
            if response.ok:
                return None
            raise GowaError(
                "UPSTREAM_ERROR",
                f"GOWA answered HTTP {response.status_code}",
                http_status=response.status_code,
            )
        code = str(body.get("code", ""))
        message = str(body.get("message", ""))
        results = body.get("results")
        if response.ok:
            return results
        status = response.status_code
        kwargs: dict[str, Any] = {"http_status": status, "results": results}
        if status == 401 or code in ("AUTHENTICATION_ERROR", "INVALID_WA_CLI"):
            # INVALID_WA_CLI (500): the session was unlinked on the phone; retrying cannot help.
            raise GowaDeviceNotLoggedIn(code or "AUTHENTICATION_ERROR", message, **kwargs)
        if code == "WA_REACHOUT_TIMELOCK":
            raise GowaReachoutTimelock(code, message, **kwargs)
        if code in ("DEVICE_NOT_FOUND", "NOT_FOUND") or (status == 500 and message.endswith("not found")):
            # GOWA answers 500 "device <id> not found" on /devices/{id} (NOTES §2 quirk).
            raise GowaDeviceMissing(code or "DEVICE_NOT_FOUND", message, **kwargs)
        if status >= 500 or status == 408:
            raise GowaTransientError(code or "INTERNAL_SERVER_ERROR", message, **kwargs)
        raise GowaError(code or "BAD_REQUEST", message, **kwargs)

    # --- node ----------------------------------------------------------------------------------
    def health(self) -> bool:
        try:
            response = _session().get(self.base_url + "/health", timeout=5)
        except requests.RequestException:
            return False
        return response.status_code == 200

    def app_info(self) -> dict[str, Any]:
        return self._request("GET", "/app/info") or {}

    # --- device management (path-scoped) ---------------------------------------------------
    def list_devices(self) -> list[dict[str, Any]]:
        return self._request("GET", "/devices") or []

    def create_device(self, device_id: str, *, webhook_url: str, webhook_secret: str) -> dict[str, Any]:
        return (
            self._request(
                "POST",
                "/devices",
                json_body={
                    "device_id": device_id,
                    "webhook_url": webhook_url,
                    "webhook_secret": webhook_secret,
                },
            )
            or {}
        )

    def get_device(self, device_id: str) -> dict[str, Any]:
        return self._request("GET", f"/devices/{quote(device_id, safe='')}") or {}

    def delete_device(self, device_id: str) -> None:
        self._request("DELETE", f"/devices/{quote(device_id, safe='')}")

    def device_status(self, device_id: str) -> dict[str, Any]:
        return self._request("GET", f"/devices/{quote(device_id, safe='')}/status") or {}

    def login_qr(self, device_id: str) -> QrLogin:
        results = self._request("GET", f"/devices/{quote(device_id, safe='')}/login") or {}
        qr_link = str(results.get("qr_link", ""))
        duration = int(results.get("qr_duration") or 30)
        return QrLogin(png=self._fetch_static(qr_link), duration_seconds=duration)

    def login_code(self, device_id: str, phone: str) -> str:
        results = (
            self._request("POST", f"/devices/{quote(device_id, safe='')}/login/code", params={"phone": phone})
            or {}
        )
        return str(results.get("pair_code", ""))

    def logout(self, device_id: str) -> None:
        self._request("POST", f"/devices/{quote(device_id, safe='')}/logout")

    def reconnect(self, device_id: str) -> None:
        self._request("POST", f"/devices/{quote(device_id, safe='')}/reconnect")

    def _fetch_static(self, link: str) -> bytes:
        """GOWA builds links from the Host header it saw; take only the path and fetch it from the node."""
        path = urlsplit(link).path
        if not path.startswith("/"):
            path = "/" + path  # GOWA's media webhooks carry "statics/media/…" without the slash
        if "/statics/" not in path:
            raise GowaError("QR_CHANNEL_ERROR", f"GOWA returned an unexpected QR link: {link!r}")
        base_path = urlsplit(self.base_url).path.rstrip("/")
        if base_path and path.startswith(base_path + "/"):
            path = path[len(base_path) :]
        try:
            response = _session().get(self.base_url + path, timeout=self.timeout)
        except requests.RequestException as exc:
            raise GowaTransientError("CONNECTION_ERROR", f"Cannot fetch {path} from GOWA: {exc}") from exc
        if response.status_code != 200:
            raise GowaTransientError(
                "QR_CHANNEL_ERROR",
                f"GOWA static {path} answered {response.status_code}",
                http_status=response.status_code,
            )
        return response.content

    # --- device-scoped (X-Device-Id) -------------------------------------------------------
    def send(
        self,
        device_id: str,
        path: str,
        *,
        fields: dict[str, Any],
        upload: tuple[str, str, bytes, str] | None = None,
    ) -> SendResult:
        """Any ``/send/*`` call. ``upload`` = (part name, file name, bytes, content type) → multipart.

        Multipart form values are strings, as GOWA's form binding expects (``true``/``false`` for bools).
        """
        if upload is None:
            results = self._request("POST", path, device_id=device_id, json_body=fields) or {}
        else:
            part, filename, content, content_type = upload
            form = {k: _form_value(v) for k, v in fields.items() if v is not None}
            results = (
                self._request(
                    "POST",
                    path,
                    device_id=device_id,
                    data=form,
                    files={part: (filename, content, content_type)},
                )
                or {}
            )
        return SendResult(
            message_id=str(results.get("message_id", "")), status=str(results.get("status", ""))
        )

    def message_action(
        self, device_id: str, message_id: str, action: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        """``POST /message/{id}/<action>`` (revoke, reaction, read, …); ``body.phone`` is the chat."""
        path = f"/message/{quote(message_id, safe='')}/{action}"
        return self._request("POST", path, device_id=device_id, json_body=body) or {}

    def chats(self, device_id: str, *, limit: int, offset: int, search: str = "") -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if search:
            params["search"] = search
        return self._request("GET", "/chats", device_id=device_id, params=params) or {}

    def chat_messages(
        self, device_id: str, chat_jid: str, *, limit: int, offset: int, search: str = ""
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if search:
            params["search"] = search
        path = f"/chat/{quote(chat_jid, safe='')}/messages"
        return self._request("GET", path, device_id=device_id, params=params) or {}

    def is_on_whatsapp(self, device_id: str, phone: str) -> bool:
        results = self._request("GET", "/user/check", device_id=device_id, params={"phone": phone}) or {}
        return bool(results.get("is_on_whatsapp"))

    def my_contacts(self, device_id: str) -> list[dict[str, Any]]:
        results = self._request("GET", "/user/my/contacts", device_id=device_id) or {}
        data = results.get("data") if isinstance(results, dict) else results
        return list(data or [])

    def fetch_static(self, path_or_link: str) -> bytes:
        """Media GOWA saved under ``/statics/`` (public on the node; fetched server-side)."""
        return self._fetch_static(path_or_link if "/" in path_or_link else f"/statics/{path_or_link}")

    def chat_presence(self, device_id: str, *, phone: str, action: str) -> None:
        self._request(
            "POST", "/send/chat-presence", device_id=device_id, json_body={"phone": phone, "action": action}
        )


def _form_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- GOWA → Wavora webhooks (pure) -------------------------------------------------------------
def webhook_signature_valid(secret: str, raw_body: bytes, header: str) -> bool:
    """``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, raw body)>``, compared in constant time."""
    if not secret or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header[len("sha256=") :].strip().lower())


def webhook_dedupe_key(body: dict[str, Any]) -> str:
    """GOWA sends no event id: (event, payload.id), or for receipts (ids, receipt_type) (NOTES §7)."""
    event = str(body.get("event", ""))
    payload = body.get("payload") if isinstance(body.get("payload"), dict) else {}
    assert isinstance(payload, dict)
    session = str(body.get("session_id") or body.get("device_id") or "")
    if event == "message.ack":
        ids = ",".join(sorted(str(i) for i in payload.get("ids") or []))
        natural = f"{event}|{session}|{ids}|{payload.get('receipt_type', '')}"
    elif payload.get("id"):
        natural = f"{event}|{session}|{payload['id']}"
    else:
        natural = f"{event}|{session}|" + json.dumps(body, sort_keys=True)
    return hashlib.sha256(natural.encode()).hexdigest()

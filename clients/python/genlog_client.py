"""A dependency-free Python client of genlog's HTTP API (standard library only).

It keeps the seed platform's call working over the network::

    from genlog_client import configure, log_generation_event

    configure(url="http://127.0.0.1:8080", token="glt_...", tenant="acme")
    record = log_generation_event("backend", user="alice", meta={"stack": "Flask"})

or, without module state, ``GenlogClient(url, token, tenant).log_generation_event(...)``.
Configuration may also come from the environment: ``GENLOG_URL``, ``GENLOG_TOKEN`` and
``GENLOG_TENANT`` (default ``default``). Errors raise :class:`GenlogError` with the server's
stable ``code`` (``GENLOG_E_INVALID_INPUT``, ``GENLOG_E_FORBIDDEN``, ...), ``message``,
``details`` and the HTTP ``status``.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Dict, List, Optional

__all__ = ["GenlogClient", "GenlogError", "configure", "log_generation_event"]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Refuses redirects: urllib would send the token to wherever a redirect points."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D102
        raise urllib.error.HTTPError(req.full_url, code, f"redirect to {newurl} refused", headers, fp)


_opener = urllib.request.build_opener(_NoRedirect)
__version__ = "0.1.0"


class GenlogError(Exception):
    """An error answered by genlog (or a failure to reach it: code ``GENLOG_E_IO``)."""

    def __init__(self, code: str, message: str, details: Optional[Dict[str, Any]] = None,
                 status: Optional[int] = None) -> None:
        super().__init__(f"{message} [{code}]")
        self.code = code
        self.message = message
        self.details = details or {}
        self.status = status


class GenlogClient:
    """A client for one tenant of a genlog server."""

    def __init__(self, url: Optional[str] = None, token: Optional[str] = None,
                 tenant: Optional[str] = None, purpose: Optional[str] = None,
                 timeout: float = 30.0) -> None:
        self.url = (url or os.environ.get("GENLOG_URL") or "").rstrip("/")
        self.token = token or os.environ.get("GENLOG_TOKEN") or ""
        self.tenant = tenant or os.environ.get("GENLOG_TENANT") or "default"
        self.purpose = purpose
        self.timeout = timeout
        if not self.url:
            raise GenlogError("GENLOG_E_USAGE", "no server URL: pass url= or set GENLOG_URL")
        if not self.token:
            raise GenlogError("GENLOG_E_USAGE", "no token: pass token= or set GENLOG_TOKEN")

    def log_generation_event(self, event_type: str, user: Optional[str] = None,
                             meta: Optional[Dict[str, Any]] = None, **fields: Any) -> Dict[str, Any]:
        """The seed call: appends one generation and returns the durable record.

        Extra keyword arguments are the event's other fields: ``sector``, ``status``,
        ``artifacts``, ``occurredAt``, ``id`` (an idempotency key, a UUID).
        """
        event: Dict[str, Any] = {"type": event_type, **fields}
        if user is not None:
            event["user"] = user
        if meta is not None:
            event["meta"] = meta
        return self.append(event)

    def append(self, event: Dict[str, Any], idempotency_key: Optional[str] = None) -> Dict[str, Any]:
        """Appends one event (a dict as the HTTP API takes it)."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return self._request("POST", "/events", event, headers)

    def append_batch(self, events: List[Dict[str, Any]],
                     idempotency_key: Optional[str] = None) -> Dict[str, Any]:
        """Appends a batch; every event is checked before any is stored."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return self._request("POST", "/events", events, headers)

    def query(self, **filters: Any) -> Dict[str, Any]:
        """One page of records: ``type``, ``actor``, ``sector``, ``status``, ``since``,
        ``until``, ``limit``, ``cursor``."""
        query = urllib.parse.urlencode({k: v for k, v in filters.items() if v is not None})
        return self._request("GET", "/events" + (f"?{query}" if query else ""))

    def checkpoint(self) -> str:
        """The latest signed checkpoint (a C2SP signed note)."""
        return self._request("GET", "/checkpoint", raw=True)

    def _request(self, method: str, path: str, body: Any = None,
                 headers: Optional[Dict[str, str]] = None, raw: bool = False) -> Any:
        url = f"{self.url}/v1/tenants/{urllib.parse.quote(self.tenant, safe='')}{path}"
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.purpose:
            request.add_header("X-Genlog-Purpose", self.purpose)
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with _opener.open(request, timeout=self.timeout) as response:
                text = response.read().decode("utf-8")
        except urllib.error.HTTPError as e:
            text = e.read().decode("utf-8", "replace")
            try:
                answer = json.loads(text)
            except ValueError:
                answer = {}
            raise GenlogError(str(answer.get("code") or "GENLOG_E_IO"),
                              str(answer.get("message") or f"HTTP {e.code} from {self.url}"),
                              answer.get("details") if isinstance(answer.get("details"), dict) else {},
                              e.code) from None
        except (urllib.error.URLError, OSError) as e:
            raise GenlogError("GENLOG_E_IO", f"cannot reach {self.url}: {e}") from None
        return text if raw else json.loads(text)


_default: Optional[GenlogClient] = None


def configure(url: Optional[str] = None, token: Optional[str] = None,
              tenant: Optional[str] = None, purpose: Optional[str] = None) -> GenlogClient:
    """Sets the client that :func:`log_generation_event` uses, and returns it."""
    global _default
    _default = GenlogClient(url, token, tenant, purpose)
    return _default


def log_generation_event(event_type: str, user: Optional[str] = None,
                         meta: Optional[Dict[str, Any]] = None, **fields: Any) -> Dict[str, Any]:
    """The seed API: ``log_generation_event("backend", user="alice", meta={"stack": "Flask"})``.

    Uses the client set by :func:`configure`, else one made from ``GENLOG_URL``,
    ``GENLOG_TOKEN`` and ``GENLOG_TENANT``.
    """
    global _default
    if _default is None:
        _default = GenlogClient()
    return _default.log_generation_event(event_type, user=user, meta=meta, **fields)

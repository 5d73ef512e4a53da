"""The SSRF guard: the one way Wavora checks and downloads a URL a tenant gave it (media URLs,
webhook URLs). A tenant's URL must never reach our own network: loopback, private ranges, the
cloud metadata service, other tenants' internal hosts.

- ``validate_url(url)`` refuses what is unsafe before anything is stored or queued.
- ``fetch(url, max_bytes=…)`` downloads it, validating every redirect hop again, under a byte cap
  and a total time cap.

How ``fetch`` defeats DNS rebinding: each hop resolves its host exactly once (``getaddrinfo``),
every address is checked, and the socket is then opened to one of *those* addresses — the IP is
pinned. Nothing resolves the name again: http.client is handed the already connected socket and
may not dial by itself, so a second DNS answer (say 127.0.0.1 a second after 93.184.216.34) is
never asked for. The name is kept where the server needs it: the ``Host`` header, TLS SNI and
certificate verification all use the hostname of the URL. Environment proxies are not used (a
proxy would resolve the name itself, out of our sight).

Only ``ALLOW_PRIVATE_URLS`` (local development) relaxes the address checks; schemes, credentials,
metadata endpoints, redirects and the caps are enforced whatever it says.
"""

from __future__ import annotations

import http.client
import ipaddress
import logging
import posixpath
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from urllib.parse import unquote, urljoin, urlsplit

from django.conf import settings
from requests.utils import requote_uri

from wavora.api.errors import WavoraError

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOWED_SCHEMES = ("http", "https")
# Cloud instance-metadata endpoints hand out credentials; never reachable, not even in development.
METADATA_HOSTNAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.azure.internal",
        "metadata.tencentyun.com",
    }
)
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "169.254.169.254",  # AWS, GCP, Azure, DigitalOcean, OpenStack, …
        "169.254.170.2",  # AWS ECS task credentials
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "100.100.100.200",  # Alibaba Cloud
    )
)
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # DNS64 synthesises these for IPv4-only hosts
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_CHUNK_BYTES = 64 * 1024
USER_AGENT = "Wavora-URL-Fetcher/1.0"


def human_bytes(size: int) -> str:
    """``20971520`` → ``"20 MB"``; small sizes in KB or bytes, so a limit always reads naturally."""
    mb = 1024 * 1024
    if size >= mb:
        return f"{size / mb:.1f}".removesuffix(".0") + " MB"
    if size >= 1024:
        return f"{size / 1024:.1f}".removesuffix(".0") + " KB"
    return f"{size} bytes"


class _UrlError(WavoraError):
    """A 400 naming the request field that held the URL, with the reason as its detail."""

    status_code = 400
    code = "VALIDATION_ERROR"

    def __init__(self, reason: str, *, field: str = "url") -> None:
        super().__init__(f"{field}: {reason}", details={field: [reason[:1].upper() + reason[1:]]})
        self.field = field
        self.reason = reason


class UnsafeUrl(_UrlError):
    """The URL is refused by policy: scheme, credentials, or an address Wavora must not reach."""

    default_detail = "This URL is not allowed."


class UrlFetchFailed(_UrlError):
    """The URL was allowed but could not be downloaded: non-2xx, timeout, connection or TLS failure."""

    default_detail = "The URL could not be downloaded."


class ResponseTooLarge(WavoraError):
    status_code = 413
    code = "PAYLOAD_TOO_LARGE"
    default_detail = "The download is too large."


@dataclass(frozen=True)
class Fetched:
    content: bytes
    content_type: str  # as the server declared it; callers detect the real type from the bytes
    filename: str
    final_url: str


@dataclass(frozen=True)
class _Target:
    url: str
    scheme: str
    host: str  # lower case, IPv6 without brackets
    port: int
    request_path: str  # path and query, percent-encoded, never empty
    addresses: tuple[str, ...]  # the validated addresses, in getaddrinfo's order


def validate_url(url: str, *, field: str = "url") -> str:
    """The URL (stripped) if Wavora may fetch it; else ``UnsafeUrl`` (400 naming ``field``).

    Resolves the host once and refuses the URL if ANY of its addresses is not public."""
    return _resolve(url, field).url


def fetch(url: str, *, max_bytes: int, field: str = "url") -> Fetched:
    """Downloads a tenant's URL: every hop validated and pinned, at most ``max_bytes`` (else 413),
    at most ``URL_FETCH_TIMEOUT_SECONDS`` in all, at most ``URL_FETCH_MAX_REDIRECTS`` redirects."""
    timeout = float(settings.URL_FETCH_TIMEOUT_SECONDS)
    deadline = time.monotonic() + timeout
    current = url
    for _hop in range(int(settings.URL_FETCH_MAX_REDIRECTS) + 1):
        target = _resolve(current, field)
        logger.info("Fetching a tenant URL from host %s", target.host)
        with _exchange(target, deadline=deadline, timeout=timeout, field=field) as (response, expired):
            if response.status in _REDIRECT_STATUSES:
                location = response.getheader("Location", "").strip()
                if not location:
                    raise UrlFetchFailed(
                        f"the server answered HTTP {response.status} without a Location.", field=field
                    )
                current = urljoin(target.url, location)
                continue
            if not 200 <= response.status < 300:
                raise UrlFetchFailed(
                    f"the server answered HTTP {response.status}; Wavora needs a 2xx response.", field=field
                )
            content = _read_capped(response, max_bytes=max_bytes, expired=expired, field=field)
            return Fetched(
                content=content,
                content_type=(response.getheader("Content-Type") or "").split(";", 1)[0].strip().lower()
                or "application/octet-stream",
                filename=_filename(response, target.url),
                final_url=target.url,
            )
    raise UrlFetchFailed(
        f"more than {settings.URL_FETCH_MAX_REDIRECTS} redirects; Wavora stopped following them.", field=field
    )


# --- validation ------------------------------------------------------------------------------
def _resolve(url: str, field: str) -> _Target:
    url = (url or "").strip() if isinstance(url, str) else ""
    if not url:
        raise UnsafeUrl("a URL is required.", field=field)
    if any(ord(char) < 0x21 or ord(char) == 0x7F for char in url):
        raise UnsafeUrl("the URL must not contain spaces or control characters.", field=field)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeUrl("this is not a valid URL.", field=field)
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        shown = f"{scheme}:" if scheme else "a URL without a scheme"
        raise UnsafeUrl(f"only http and https URLs are allowed, not {shown}.", field=field)
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise UnsafeUrl("the URL must not contain credentials (user:password@).", field=field)
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeUrl("the URL has no host.", field=field)
    if host in METADATA_HOSTNAMES:
        raise UnsafeUrl(f"{host} is a cloud metadata endpoint; Wavora never fetches it.", field=field)
    port = port or (443 if scheme == "https" else 80)

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UnsafeUrl(f"the host {host} could not be resolved.", field=field)
    addresses: list[str] = []
    for *_, sockaddr in infos:
        text = str(sockaddr[0])
        if text not in addresses:
            addresses.append(text)
    if not addresses:
        raise UnsafeUrl(f"the host {host} could not be resolved.", field=field)
    for text in addresses:
        problem = _address_problem(ipaddress.ip_address(text.split("%", 1)[0]))
        if problem:
            logger.warning("Refused a tenant URL: host %s resolves to %s (%s)", host, text, problem)
            # The address itself is not echoed: it would map a tenant's guesses onto our network.
            raise UnsafeUrl(
                f"the host {host} resolves to {problem}; Wavora only fetches public internet addresses.",
                field=field,
            )

    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return _Target(
        url=url,
        scheme=scheme,
        host=host,
        port=port,
        request_path=requote_uri(path),
        addresses=tuple(addresses),
    )


def _address_problem(address: IPAddress) -> str | None:
    """What kind of address this is, when Wavora must not connect to it; None when it may."""
    if isinstance(address, ipaddress.IPv6Address):
        # IPv6 forms that carry an IPv4 address are judged by the IPv4 address they reach.
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return _address_problem(embedded)
    if address in METADATA_ADDRESSES:
        return "a cloud metadata endpoint"
    if settings.ALLOW_PRIVATE_URLS:
        return None
    checks: list[tuple[bool, str]] = [
        (address.is_loopback, "a loopback address"),
        (address.is_unspecified, "an unspecified address"),
        (address.is_link_local, "a link-local address"),
        (isinstance(address, ipaddress.IPv6Address) and address.is_site_local, "a site-local address"),
        (address.is_multicast, "a multicast address"),
        (address.version == 4 and address in _CGNAT, "a shared (carrier-grade NAT) address"),
        (address.is_reserved, "a reserved address"),
        (address.is_private, "a private address"),
        (not address.is_global, "a non-public address"),
    ]
    return next((label for failed, label in checks if failed), None)


# --- the download ----------------------------------------------------------------------------
@contextmanager
def _time_capped(deadline: float) -> Iterator[tuple[threading.Event, list[socket.socket]]]:
    """A watchdog shuts every socket of the exchange at the deadline, so a server that drips one
    byte at a time cannot stretch it past the cap; the sockets are closed on the way out."""
    expired = threading.Event()
    sockets: list[socket.socket] = []

    def expire() -> None:
        expired.set()
        for sock in sockets:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), expire)
    watchdog.daemon = True
    watchdog.start()
    try:
        yield expired, sockets
    finally:
        watchdog.cancel()
        for sock in sockets:
            sock.close()


class _PinnedConnection(http.client.HTTPConnection):
    """http.client over a socket already connected to a validated address; it never dials itself."""

    def __init__(self, target: _Target, sock: socket.socket) -> None:
        super().__init__(target.host, target.port)
        self.default_port = 443 if target.scheme == "https" else 80  # Host omits the default port
        self.sock = sock

    def connect(self) -> None:
        raise http.client.HTTPException("the pinned connection was closed; refusing to dial again")


@contextmanager
def _exchange(
    target: _Target, *, deadline: float, timeout: float, field: str
) -> Iterator[tuple[http.client.HTTPResponse, threading.Event]]:
    """Connects to a validated address, sends the GET, yields the response (and a flag set when the
    time cap expired). A watchdog shuts the socket at the deadline, so a server that drips one byte
    at a time cannot stretch the download past the cap."""
    with _time_capped(deadline) as (expired, sockets):
        yield from _exchange_body(
            target, deadline=deadline, timeout=timeout, field=field, expired=expired, sockets=sockets
        )


def _exchange_body(
    target: _Target,
    *,
    deadline: float,
    timeout: float,
    field: str,
    expired: threading.Event,
    sockets: list[socket.socket],
) -> Iterator[tuple[http.client.HTTPResponse, threading.Event]]:
    connection: _PinnedConnection | None = None
    try:
        try:
            sock = _connect(target, deadline=deadline, sockets=sockets)
            connection = _PinnedConnection(target, sock)
            connection.putrequest("GET", target.request_path)
            connection.putheader("User-Agent", USER_AGENT)
            connection.putheader("Accept", "*/*")
            connection.putheader("Connection", "close")
            connection.endheaders()
            response = connection.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            raise _failure(exc, target=target, expired=expired, timeout=timeout, field=field)
        try:
            yield response, expired
        except (OSError, http.client.HTTPException) as exc:
            raise _failure(exc, target=target, expired=expired, timeout=timeout, field=field)
        finally:
            response.close()
    finally:
        if connection is not None:
            connection.close()


def _connect(target: _Target, *, deadline: float, sockets: list[socket.socket]) -> socket.socket:
    last_error: OSError = OSError(f"no address to connect to for {target.host}")
    for address in target.addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("time cap reached while connecting")
        try:
            # An IP literal: create_connection does no DNS lookup for it.
            sock = socket.create_connection((address, target.port), timeout=remaining)
        except OSError as exc:
            last_error = exc
            continue
        sockets.append(sock)
        if target.scheme == "https":
            # SNI and certificate verification use the URL's hostname, not the pinned IP.
            context = ssl.create_default_context()
            tls = context.wrap_socket(sock, server_hostname=target.host, do_handshake_on_connect=False)
            sockets.append(tls)  # before the handshake, so the watchdog can cut a stalled one
            tls.do_handshake()
            return tls
        return sock
    raise last_error


def _failure(
    exc: BaseException, *, target: _Target, expired: threading.Event, timeout: float, field: str
) -> UrlFetchFailed:
    logger.info("Fetching from host %s failed: %s", target.host, exc.__class__.__name__)
    if expired.is_set() or isinstance(exc, TimeoutError):
        return UrlFetchFailed(f"the download did not finish within {timeout:g} s.", field=field)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return UrlFetchFailed(f"the TLS certificate of {target.host} could not be verified.", field=field)
    if isinstance(exc, ssl.SSLError):
        return UrlFetchFailed(f"the TLS handshake with {target.host} failed.", field=field)
    if isinstance(exc, ConnectionRefusedError):
        return UrlFetchFailed(f"{target.host} refused the connection.", field=field)
    if isinstance(exc, http.client.HTTPException):
        return UrlFetchFailed(f"{target.host} did not answer with valid HTTP.", field=field)
    return UrlFetchFailed(f"could not download from {target.host}.", field=field)


def _read_capped(
    response: http.client.HTTPResponse, *, max_bytes: int, expired: threading.Event, field: str
) -> bytes:
    declared = response.getheader("Content-Length")
    if declared and declared.strip().isdigit() and int(declared) > max_bytes:
        raise ResponseTooLarge(
            f"{field}: the file is {human_bytes(int(declared))}, over the {human_bytes(max_bytes)} limit.",
            details={field: [f"Larger than {human_bytes(max_bytes)}."]},
        )
    chunks: list[bytes] = []
    received = 0
    while chunk := response.read1(_CHUNK_BYTES):
        received += len(chunk)
        if received > max_bytes:
            raise ResponseTooLarge(
                f"{field}: the file is over the {human_bytes(max_bytes)} limit.",
                details={field: [f"Larger than {human_bytes(max_bytes)}."]},
            )
        chunks.append(chunk)
    if expired.is_set():  # the watchdog cut the stream: what we have is truncated
        raise TimeoutError("time cap reached while reading")
    return b"".join(chunks)


def _filename(response: http.client.HTTPResponse, url: str) -> str:
    name = response.msg.get_filename() or unquote(posixpath.basename(urlsplit(url).path))
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(char for char in name if char.isprintable()).strip()
    return name[-255:] or "download"


# --- outbound POST (tenant webhooks) ---------------------------------------------------------
@dataclass(frozen=True)
class Posted:
    status: int
    excerpt: bytes  # the first bytes of the answer, at most ``excerpt_bytes``; the rest is not read


def post(
    url: str,
    *,
    body: bytes,
    headers: dict[str, str],
    timeout: float,
    excerpt_bytes: int = 1024,
    field: str = "url",
) -> Posted:
    """POSTs ``body`` to a tenant's URL with the guard of ``fetch``: the host is resolved once,
    every address checked, and the socket pinned to one of them (no DNS rebinding).

    Redirects are not followed — the 3xx is the answer. ``timeout`` caps the whole exchange
    (connect, send, status line, excerpt). Raises ``UnsafeUrl`` when the URL is refused and
    ``UrlFetchFailed`` when the server could not be reached or did not answer in time."""
    deadline = time.monotonic() + timeout
    target = _resolve(url, field)
    with _time_capped(deadline) as (expired, sockets):
        return _post_on(
            target,
            body=body,
            headers=headers,
            timeout=timeout,
            excerpt_bytes=excerpt_bytes,
            field=field,
            deadline=deadline,
            expired=expired,
            sockets=sockets,
        )


def _post_on(
    target: _Target,
    *,
    body: bytes,
    headers: dict[str, str],
    timeout: float,
    excerpt_bytes: int,
    field: str,
    deadline: float,
    expired: threading.Event,
    sockets: list[socket.socket],
) -> Posted:
    connection: _PinnedConnection | None = None
    try:
        sock = _connect(target, deadline=deadline, sockets=sockets)
        connection = _PinnedConnection(target, sock)
        connection.putrequest("POST", target.request_path, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.putheader("Content-Length", str(len(body)))
        connection.putheader("Connection", "close")
        connection.endheaders(body)
        response = connection.getresponse()
        try:
            excerpt = _read_excerpt(response, limit=excerpt_bytes)
        except (OSError, http.client.HTTPException):
            excerpt = b""  # the status line arrived: that is the answer; the body is a courtesy
        finally:
            response.close()
        return Posted(status=response.status, excerpt=excerpt)
    except (OSError, http.client.HTTPException) as exc:
        raise _post_failure(exc, target=target, expired=expired, timeout=timeout, field=field)
    finally:
        if connection is not None:
            connection.close()


def _read_excerpt(response: http.client.HTTPResponse, *, limit: int) -> bytes:
    chunks: list[bytes] = []
    received = 0
    while received < limit and (chunk := response.read1(limit - received)):
        chunks.append(chunk)
        received += len(chunk)
    return b"".join(chunks)


def _post_failure(
    exc: BaseException, *, target: _Target, expired: threading.Event, timeout: float, field: str
) -> UrlFetchFailed:
    logger.info("POST to host %s failed: %s", target.host, exc.__class__.__name__)
    if expired.is_set() or isinstance(exc, TimeoutError):
        return UrlFetchFailed(f"{target.host} did not answer within {timeout:g} s.", field=field)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return UrlFetchFailed(f"the TLS certificate of {target.host} could not be verified.", field=field)
    if isinstance(exc, ssl.SSLError):
        return UrlFetchFailed(f"the TLS handshake with {target.host} failed.", field=field)
    if isinstance(exc, ConnectionRefusedError):
        return UrlFetchFailed(f"{target.host} refused the connection.", field=field)
    if isinstance(exc, http.client.RemoteDisconnected):
        return UrlFetchFailed(f"{target.host} closed the connection without answering.", field=field)
    if isinstance(exc, http.client.HTTPException):
        return UrlFetchFailed(f"{target.host} did not answer with valid HTTP.", field=field)
    return UrlFetchFailed(f"could not connect to {target.host}.", field=field)

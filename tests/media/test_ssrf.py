"""The SSRF guard: a tenant's URL never reaches loopback, private, link-local or metadata addresses —
not directly, not through a hostname, not after a redirect, not by DNS rebinding — and downloads are
capped in size and time.

The tests are hermetic: ``dns`` answers for the ``*.example`` names a test sets up (IP literals and
``localhost`` resolve as usual), and ``net`` records every address the code dials, routes the
public test addresses to a local server (as a NAT would) and makes every other non-loopback
address unreachable. So "nothing was fetched" is checked twice: no dial, and no request seen."""

from __future__ import annotations

import errno
import ipaddress
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from wavora.ssrf import ResponseTooLarge, UnsafeUrl, UrlFetchFailed, fetch, validate_url

from . import FileServer

PUBLIC_IP = "93.184.216.34"
SECRET = b"internal secret: db password hunter2"


class FakeDns:
    """Answers for the test's hostnames, in order (the last answer repeats); records the lookups."""

    def __init__(self, real: Callable[..., Any]) -> None:
        self.real = real
        self.answers: dict[str, list[list[str]]] = {}
        self.lookups: list[str] = []

    def add(self, name: str, *answers: list[str]) -> None:
        self.answers[name] = list(answers)

    def __call__(
        self, host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
    ) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name in self.answers:
            self.lookups.append(name)
            queue = self.answers[name]
            addresses = queue.pop(0) if len(queue) > 1 else queue[0]
            return [
                (socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (ip, int(port), 0, 0))
                if ":" in ip
                else (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (ip, int(port)))
                for ip in addresses
            ]
        if name.endswith(".example"):
            self.lookups.append(name)
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return self.real(host, port, family, type, proto, flags)


class FakeNetwork:
    """Records dials; routes chosen public addresses to local servers; the rest of the internet is
    unreachable, so no test ever leaves this machine."""

    def __init__(self, real: Callable[..., socket.socket]) -> None:
        self.real = real
        self.routes: dict[str, int] = {}
        self.dialled: list[tuple[str, int]] = []

    def route(self, address: str, server: FileServer) -> None:
        self.routes[address] = server.port

    def __call__(
        self, address: tuple[Any, ...], timeout: Any = None, *args: Any, **kwargs: Any
    ) -> socket.socket:
        host, port = str(address[0]), int(address[1])
        self.dialled.append((host, port))
        if host in self.routes:
            return self.real(("127.0.0.1", self.routes[host]), timeout)
        if ipaddress.ip_address(host.split("%", 1)[0]).is_loopback:
            return self.real(address, timeout)
        raise OSError(errno.ENETUNREACH, "Network is unreachable (test network)")


@pytest.fixture(autouse=True)
def guard_settings(settings: Any) -> None:
    settings.ALLOW_PRIVATE_URLS = False
    settings.URL_FETCH_TIMEOUT_SECONDS = 5.0
    settings.URL_FETCH_MAX_REDIRECTS = 3


@pytest.fixture(autouse=True)
def dns(monkeypatch: pytest.MonkeyPatch) -> FakeDns:
    fake = FakeDns(socket.getaddrinfo)
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return fake


@pytest.fixture(autouse=True)
def net(monkeypatch: pytest.MonkeyPatch) -> FakeNetwork:
    fake = FakeNetwork(socket.create_connection)
    monkeypatch.setattr(socket, "create_connection", fake)
    return fake


def _server(bind: str = "127.0.0.1") -> Iterator[FileServer]:
    server = FileServer(bind)
    server.route("/secret", SECRET)
    yield server
    server.stop()


@pytest.fixture
def server() -> Iterator[FileServer]:
    """An internal service on loopback that must never be reached."""
    yield from _server()


@pytest.fixture
def server6() -> Iterator[FileServer]:
    yield from _server("::1")


@pytest.fixture
def public(net: FakeNetwork, dns: FakeDns) -> Iterator[FileServer]:
    """A public site: ``public.example`` → 93.184.216.34, routed to a local server."""
    server = FileServer()
    dns.add("public.example", [PUBLIC_IP])
    net.route(PUBLIC_IP, server)
    yield server
    server.stop()


# --- refused before anything is fetched -------------------------------------------------------
@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("http://127.0.0.1:{port}/secret", "loopback"),
        ("http://localhost:{port}/secret", "loopback"),
        ("http://2130706433:{port}/secret", "loopback"),  # 127.0.0.1 written as one number
        ("http://127.1:{port}/secret", "loopback"),
        ("http://[::1]:{port6}/secret", "loopback"),
        ("http://[::ffff:127.0.0.1]:{port}/secret", "loopback"),  # IPv4-mapped IPv6
        ("http://[2002:7f00:1::]:{port}/secret", "loopback"),  # 6to4 wrapping 127.0.0.1
        ("http://0.0.0.0:{port}/secret", "unspecified"),
        ("http://10.0.0.1/", "private"),
        ("http://172.16.5.4/", "private"),
        ("http://172.31.255.1:8080/", "private"),
        ("http://192.168.1.10/admin", "private"),
        ("http://[fd12:3456::1]/", "private"),
        ("http://100.64.0.1/", "carrier-grade NAT"),
        ("http://169.254.169.254/latest/meta-data/iam/", "metadata"),
        ("http://169.254.10.10/", "link-local"),
        ("http://[fe80::1]/", "link-local"),
        ("http://224.0.0.1/", "multicast"),
        ("http://240.0.0.1/", "reserved"),
    ],
)
def test_local_and_private_addresses_are_refused_and_nothing_is_fetched(
    server: FileServer, server6: FileServer, net: FakeNetwork, template: str, expected: str
) -> None:
    url = template.format(port=server.port, port6=server6.port)

    with pytest.raises(UnsafeUrl) as refused:
        fetch(url, max_bytes=10_000)

    assert refused.value.status_code == 400
    assert refused.value.code == "VALIDATION_ERROR"
    assert expected in refused.value.message
    assert "only fetches public internet addresses" in refused.value.message or expected == "metadata"
    assert list(refused.value.details) == ["url"]
    with pytest.raises(UnsafeUrl):
        validate_url(url)
    assert net.dialled == []
    assert server.seen == [] and server6.seen == []


def test_a_hostname_resolving_to_loopback_is_refused_without_revealing_the_address(
    dns: FakeDns, server: FileServer, net: FakeNetwork
) -> None:
    dns.add("intranet.example", ["127.0.0.1"])

    with pytest.raises(UnsafeUrl) as refused:
        fetch(f"http://intranet.example:{server.port}/secret", max_bytes=10_000)

    assert "intranet.example resolves to a loopback address" in refused.value.message
    assert "127.0.0.1" not in refused.value.message
    assert net.dialled == [] and server.seen == []


def test_one_private_address_among_public_ones_is_enough_to_refuse(dns: FakeDns, net: FakeNetwork) -> None:
    dns.add("mixed.example", [PUBLIC_IP, "10.0.0.7"])

    with pytest.raises(UnsafeUrl) as refused:
        validate_url("https://mixed.example/picture.jpg")

    assert "private address" in refused.value.message
    assert net.dialled == []


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("ftp://public.example/file.pdf", "only http and https URLs are allowed, not ftp:"),
        ("file:///etc/passwd", "only http and https URLs are allowed, not file:"),
        ("gopher://public.example:70/_GET", "only http and https"),
        ("javascript:alert(1)", "only http and https"),
        ("//public.example/no-scheme.png", "not a URL without a scheme"),
        ("http:///nohost", "has no host"),
        ("", "a URL is required"),
        ("http://public.example/a b.png", "spaces or control characters"),
        ("http://[::1/", "not a valid URL"),
    ],
)
def test_only_well_formed_http_and_https_urls_are_accepted(
    public: FileServer, net: FakeNetwork, url: str, expected: str
) -> None:
    with pytest.raises(UnsafeUrl) as refused:
        fetch(url, max_bytes=10_000)

    assert expected in refused.value.message
    assert net.dialled == [] and public.seen == []


@pytest.mark.parametrize(
    "url",
    [
        "http://user:secret@public.example/a.png",
        "http://user@public.example/a.png",
        "https://:pw@public.example/",
    ],
)
def test_credentials_in_a_url_are_refused(public: FileServer, net: FakeNetwork, url: str) -> None:
    with pytest.raises(UnsafeUrl) as refused:
        fetch(url, max_bytes=10_000)

    assert "must not contain credentials" in refused.value.message
    assert net.dialled == [] and public.seen == []


@pytest.mark.parametrize(
    "url",
    [
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://METADATA.GOOGLE.INTERNAL./computeMetadata/v1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
    ],
)
def test_cloud_metadata_is_refused_even_when_private_urls_are_allowed(
    settings: Any, dns: FakeDns, net: FakeNetwork, url: str
) -> None:
    settings.ALLOW_PRIVATE_URLS = True
    dns.add("metadata.google.internal", ["169.254.169.254"])

    with pytest.raises(UnsafeUrl) as refused:
        fetch(url, max_bytes=10_000)

    assert "metadata endpoint" in refused.value.message
    assert net.dialled == []


def test_an_unresolvable_host_is_refused_clearly(dns: FakeDns) -> None:
    with pytest.raises(UnsafeUrl) as refused:
        validate_url("https://no-such-host.example/a.png")

    assert refused.value.message == "url: the host no-such-host.example could not be resolved."


def test_the_error_names_the_field_the_url_came_from() -> None:
    with pytest.raises(UnsafeUrl) as refused:
        validate_url("ftp://files.example/x", field="link")

    assert refused.value.message.startswith("link: ")
    assert refused.value.details == {"link": ["Only http and https URLs are allowed, not ftp:."]}


def test_a_safe_url_is_returned_as_given(public: FileServer) -> None:
    assert validate_url("  https://public.example/promo.png?size=large  ") == (
        "https://public.example/promo.png?size=large"
    )


# --- fetching --------------------------------------------------------------------------------
def test_a_public_url_is_fetched_from_the_validated_address_with_its_own_host_name(
    public: FileServer, net: FakeNetwork, dns: FakeDns
) -> None:
    public.route("/promo.png?v=2", b"\x89PNG fake", headers={"Content-Type": "image/png; charset=binary"})

    fetched = fetch("http://public.example/promo.png?v=2", max_bytes=10_000)

    assert fetched.content == b"\x89PNG fake"
    assert fetched.content_type == "image/png"
    assert fetched.filename == "promo.png"
    assert fetched.final_url == "http://public.example/promo.png?v=2"
    assert net.dialled == [(PUBLIC_IP, 80)]
    assert dns.lookups == ["public.example"]
    assert [(seen.path, seen.host) for seen in public.seen] == [("/promo.png?v=2", "public.example")]


def test_the_servers_content_disposition_names_the_file(public: FileServer) -> None:
    public.route(
        "/download?id=7",
        b"%PDF-1.4",
        headers={"Content-Disposition": 'attachment; filename="../katalog 2025.pdf"'},
    )

    fetched = fetch("http://public.example/download?id=7", max_bytes=10_000)

    assert fetched.filename == "katalog 2025.pdf"


@pytest.mark.parametrize(
    "location",
    [
        "http://127.0.0.1:{port}/secret",
        "http://localhost:{port}/secret",
        "http://169.254.169.254/latest/meta-data/",
        "http://internal.example:{port}/secret",
        "ftp://public.example/secret",
    ],
)
def test_a_redirect_to_a_private_address_is_refused_and_not_followed(
    public: FileServer, server: FileServer, net: FakeNetwork, dns: FakeDns, location: str
) -> None:
    dns.add("internal.example", ["10.0.0.5"])
    public.route("/promo.png", status=302, headers={"Location": location.format(port=server.port)})

    with pytest.raises(UnsafeUrl):
        fetch("http://public.example/promo.png", max_bytes=10_000)

    assert [seen.path for seen in public.seen] == ["/promo.png"]
    assert server.seen == []
    assert net.dialled == [(PUBLIC_IP, 80)]


def test_dns_rebinding_cannot_reach_a_private_address(
    dns: FakeDns, net: FakeNetwork, server: FileServer, public: FileServer
) -> None:
    # The attacker's DNS says "public" when asked first and "127.0.0.1" ever after. A guard that
    # validates one answer and then lets the HTTP client resolve the name again would be fooled.
    dns.add("rebind.example", [PUBLIC_IP], ["127.0.0.1"])
    public.route("/secret", b"harmless public picture")

    fetched = fetch(f"http://rebind.example:{server.port}/secret", max_bytes=10_000)

    assert fetched.content == b"harmless public picture"
    assert dns.lookups == ["rebind.example"]
    assert net.dialled == [(PUBLIC_IP, server.port)]
    assert server.seen == []


def test_redirects_are_followed_and_each_hop_is_validated(public: FileServer, dns: FakeDns) -> None:
    dns.add("cdn.example", [PUBLIC_IP])
    public.route("/a", status=301, headers={"Location": "/b"})
    public.route("/b", status=307, headers={"Location": "http://cdn.example/c.png"})
    public.route("/c.png", b"final bytes")

    fetched = fetch("http://public.example/a", max_bytes=10_000)

    assert fetched.content == b"final bytes"
    assert fetched.final_url == "http://cdn.example/c.png"
    assert dns.lookups == ["public.example", "public.example", "cdn.example"]


def test_too_many_redirects_are_refused(settings: Any, public: FileServer) -> None:
    settings.URL_FETCH_MAX_REDIRECTS = 2
    for hop in range(4):
        public.route(f"/{hop}", status=302, headers={"Location": f"/{hop + 1}"})
    public.route("/4", b"too far")

    with pytest.raises(UrlFetchFailed) as failed:
        fetch("http://public.example/0", max_bytes=10_000)

    assert failed.value.status_code == 400
    assert "more than 2 redirects" in failed.value.message
    assert [seen.path for seen in public.seen] == ["/0", "/1", "/2"]


@pytest.mark.parametrize("send_length", [True, False], ids=["content-length", "streamed"])
def test_a_body_over_the_byte_cap_is_a_413(public: FileServer, send_length: bool) -> None:
    public.route("/big.bin", b"x" * 300_000, send_length=send_length)

    with pytest.raises(ResponseTooLarge) as too_large:
        fetch("http://public.example/big.bin", max_bytes=100 * 1024)

    assert too_large.value.status_code == 413
    assert too_large.value.code == "PAYLOAD_TOO_LARGE"
    assert "over the 100 KB limit" in too_large.value.message


def test_a_body_exactly_at_the_cap_is_accepted(public: FileServer) -> None:
    public.route("/exact.bin", b"y" * 4096, send_length=False)

    assert len(fetch("http://public.example/exact.bin", max_bytes=4096).content) == 4096


def test_a_non_2xx_answer_is_a_400_naming_the_status(public: FileServer) -> None:
    with pytest.raises(UrlFetchFailed) as failed:
        fetch("http://public.example/missing.png", max_bytes=10_000)

    assert failed.value.status_code == 400
    assert failed.value.message == "url: the server answered HTTP 404; Wavora needs a 2xx response."


def test_an_unreachable_host_is_a_400(dns: FakeDns) -> None:
    dns.add("down.example", ["93.184.216.99"])

    with pytest.raises(UrlFetchFailed) as failed:
        fetch("http://down.example/a.png", max_bytes=10_000)

    assert failed.value.message == "url: could not download from down.example."


@pytest.mark.parametrize(
    "options", [{"delay": 10.0}, {"drip": 0.2}], ids=["slow-to-answer", "drips-the-body"]
)
def test_the_whole_download_is_capped_in_time(
    settings: Any, public: FileServer, options: dict[str, Any]
) -> None:
    settings.URL_FETCH_TIMEOUT_SECONDS = 1
    public.route("/slow.png", b"z" * 100, **options)
    started = time.monotonic()

    with pytest.raises(UrlFetchFailed) as failed:
        fetch("http://public.example/slow.png", max_bytes=10_000)

    assert "did not finish within 1 s" in failed.value.message
    assert time.monotonic() - started < 3


def test_private_urls_are_fetched_only_when_allowed_for_local_development(
    settings: Any, server: FileServer
) -> None:
    with pytest.raises(UnsafeUrl):
        fetch(server.url("/secret"), max_bytes=10_000)
    settings.ALLOW_PRIVATE_URLS = True

    assert fetch(server.url("/secret"), max_bytes=10_000).content == SECRET
    assert fetch(server.url("/secret", host="localhost"), max_bytes=10_000).content == SECRET
    # Everything but the address checks still holds.
    with pytest.raises(UnsafeUrl):
        fetch(f"http://user:pw@127.0.0.1:{server.port}/secret", max_bytes=10_000)
    with pytest.raises(UnsafeUrl):
        fetch("file:///etc/passwd", max_bytes=10_000)
    with pytest.raises(ResponseTooLarge):
        fetch(server.url("/secret"), max_bytes=5)

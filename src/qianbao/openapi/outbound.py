"""Outbound calls to merchants' webhooks, safe against server-side request forgery.

A merchant chooses its ``notify_url``, so without checks the platform POSTs wherever a merchant
says: into the operator's network (``http://10.0.0.5/admin``), the cloud metadata service
(``http://169.254.169.254/``) or the platform itself (``http://127.0.0.1:8000``). Here:

- **where a URL is set** (an app's ``notify_url``, a gateway request's) it must be ``https`` in
  production (``http`` too in the sandbox), carry no user name or password, name a host, and
  every address the host resolves to must be public: private, loopback, link-local, multicast,
  reserved, unspecified, CGNAT and the IPv6 equivalents are refused unless the sandbox allows
  them (``allow_private_targets``: the sandbox's default, so ``make run`` and the tests can
  notify a receiver on 127.0.0.1);
- **when a notification is sent** the host is resolved and checked again and the request goes
  to the checked address itself (the ``Host`` header and TLS server name stay the host's), so
  a DNS answer that changes between the check and the connection (DNS rebinding) cannot steer
  it; the call has connect/read/write/pool timeouts, the answer is read up to
  ``ANSWER_MAX_BYTES``, and redirects are followed only to URLs that pass the same checks, at
  most ``REDIRECTS_MAX`` of them.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from qianbao.openapi.errors import InvalidNotifyUrl, NotifyUrlRefused
from qianbao.platform.settings import Settings

URL_MAX_CHARS = 256
REDIRECTS_MAX = 3
ANSWER_MAX_BYTES = 4_096
Resolver = Callable[[str, int], list[str]]
# Ranges that are not "the public internet" beyond what ``ip.is_global`` already excludes.
_EXTRA_REFUSED = [ipaddress.ip_network("100.64.0.0/10"), ipaddress.ip_network("64:ff9b::/96")]


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


@dataclass(frozen=True)
class Target:
    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]


def address_refused(address: str) -> str:
    """Why ``address`` is not a public target ('' if it is one). Pure."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for label, hit in (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
    ):
        if hit:
            return label
    if any(ip in net for net in _EXTRA_REFUSED if net.version == ip.version):
        return "shared (carrier-grade NAT)"
    return "" if ip.is_global else "not globally routable"


def parse(settings: Settings, url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an acceptable URL, or ``INVALID_NOTIFY_URL``."""
    if not url or len(url) > URL_MAX_CHARS or any(c.isspace() for c in url):
        raise InvalidNotifyUrl(f"notify_url must be an http(s) URL of 1–{URL_MAX_CHARS} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidNotifyUrl("notify_url is not a valid URL") from None
    schemes = ("https",) if settings.production else ("https", "http")
    if parts.scheme not in schemes:
        raise InvalidNotifyUrl(f"notify_url must use {' or '.join(schemes)}")
    if parts.username is not None or parts.password is not None:
        raise InvalidNotifyUrl("notify_url may not carry a user name or password")
    if not parts.hostname:
        raise InvalidNotifyUrl("notify_url must name a host")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def check(settings: Settings, url: str, resolver: Resolver = system_resolver) -> Target:
    """The URL and the addresses it may be sent to, or a 4xx saying why not."""
    scheme, host, port = parse(settings, url)
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        try:
            addresses = resolver(host, port)
        except (OSError, UnicodeError):
            raise NotifyUrlRefused(f"notify_url host {host!r} does not resolve") from None
    if not addresses:
        raise NotifyUrlRefused(f"notify_url host {host!r} does not resolve")
    if not settings.allow_private_targets:
        allowed = allowed_networks(settings)
        for address in addresses:
            why = address_refused(address)
            if why and not any(ipaddress.ip_address(address) in net for net in allowed):
                raise NotifyUrlRefused(f"notify_url resolves to a {why} address ({address})")
    return Target(url, scheme, host, port, tuple(addresses))


def allowed_networks(settings: Settings) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The non-public networks ``outbound_allow_private`` names (none for "true"/"false")."""
    text = settings.outbound_allow_private.strip()
    if not text or text.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        return []
    return [ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part]


def checked_notify_url(settings: Settings, url: str, resolver: Resolver = system_resolver) -> str:
    """Where a ``notify_url`` is set: '' stays '' (no notifications), else it must pass."""
    return check(settings, url, resolver).url if url else ""


def timeouts(settings: Settings) -> httpx.Timeout:
    return httpx.Timeout(settings.outbound_timeout_s, connect=min(settings.outbound_timeout_s, 3))


@dataclass(frozen=True)
class Answer:
    ok: bool
    status: int | None
    body: str


def _send_once(client: httpx.Client, target: Target, form: dict[str, str]) -> httpx.Response:
    """POST to the checked address itself: the URL's host is replaced by the address, the
    ``Host`` header and the TLS server name (``sni_hostname``, also what the certificate is
    checked against) stay the host's."""
    address = target.addresses[0]
    literal = f"[{address}]" if ":" in address else address
    url = httpx.URL(target.url).copy_with(host=literal.strip("[]"))
    request = client.build_request(
        "POST",
        url,
        data=form,
        headers={"Host": httpx.URL(target.url).netloc.decode()},
        extensions={"sni_hostname": target.host} if target.scheme == "https" else {},
    )
    return client.send(request, stream=True, follow_redirects=False)


def _read_capped(response: httpx.Response) -> str:
    data = b""
    for chunk in response.iter_bytes():
        data += chunk
        if len(data) >= ANSWER_MAX_BYTES:
            break
    response.close()
    return data[:ANSWER_MAX_BYTES].decode("utf-8", "replace")


def post_form(
    settings: Settings,
    client: httpx.Client,
    url: str,
    form: dict[str, str],
    resolver: Resolver = system_resolver,
) -> Answer:
    """POST ``form`` to ``url`` with every hop checked; a refusal or a network error is an
    ``Answer`` that failed (the notification is retried on its schedule), never an exception."""
    try:
        target = check(settings, url, resolver)
        for _ in range(REDIRECTS_MAX + 1):
            response = _send_once(client, target, form)
            if not response.is_redirect:
                return Answer(
                    response.status_code == 200, response.status_code, _read_capped(response)
                )
            location = response.headers.get("location", "")
            response.close()
            target = check(settings, urljoin(target.url, location), resolver)
        return Answer(False, response.status_code, f"more than {REDIRECTS_MAX} redirects")
    except (InvalidNotifyUrl, NotifyUrlRefused) as exc:
        return Answer(False, None, f"refused: {exc.message}"[:200])
    except httpx.HTTPError as exc:
        return Answer(False, None, f"{type(exc).__name__}: {exc}"[:200])

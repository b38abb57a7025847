"""Product URL normalisation: one spelling per page, so a page is shared and fetched once.

Pure: no ORM, no network. `normalize_url` turns what a user pasted into the canonical form:

- scheme and host lower-cased (internationalised host names in their ASCII / punycode form),
  default ports (80 for http, 443 for https) dropped, an empty path becomes "/";
- the fragment dropped, unless it is an app route ("#/…" or "#!…"), which selects the page on
  single-page shops;
- query parameters that only track the visit (see `TRACKING_PARAMETERS` and
  `TRACKING_PREFIXES`) dropped; every other parameter is kept, because it may select a
  variant (size, colour, sku, id, …); the kept ones are sorted by name (repeated names keep
  their order) and keep their original encoding;
- a URL without a scheme ("shop.example/p/1") is read as https.

Refused with `InvalidURL` (its message is meant for the user): text that is no URL, schemes
other than http and https (javascript:, file:, ftp:, data:, …), user names or passwords in the
URL, bad ports, URLs longer than `MAX_URL_LENGTH`.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import SplitResult, quote, unquote_plus, urlsplit, urlunsplit

MAX_URL_LENGTH = 2048
# Anything longer than this is refused before it is even parsed.
MAX_INPUT_LENGTH = 8192

# Parameters that identify a campaign, a click or a visitor, never the product. Compared
# case-insensitively with the decoded name.
TRACKING_PARAMETERS: frozenset[str] = frozenset(
    {
        # Google
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "srsltid",
        "_ga",
        "_gl",
        "_gac",
        # Meta, Microsoft, Yandex, Twitter/X, TikTok, LinkedIn, Instagram
        "fbclid",
        "msclkid",
        "yclid",
        "twclid",
        "ttclid",
        "li_fat_id",
        "igshid",
        "igsh",
        # Mailchimp, HubSpot, Marketo, Klaviyo, Vero, Oracle, Bronto
        "mc_cid",
        "mc_eid",
        "_hsenc",
        "_hsmi",
        "hsctatracking",
        "mkt_tok",
        "_kx",
        "vero_id",
        "vero_conv",
        "oly_anon_id",
        "oly_enc_id",
        "_bta_tid",
        "_bta_c",
        # Adobe, Matomo/Piwik campaign names without a prefix
        "s_kwcid",
        "ef_id",
        "cmpid",
        "icid",
        # referrers and shop-internal click tracking
        "ref",
        "ref_",
        "ref_src",
        "referrer",
        "spm",
        "scm",
        "trk",
        "trkcampaign",
        "sc_campaign",
        "sc_channel",
        "sc_content",
        "sc_medium",
        "sc_outcome",
        "sc_geo",
        "sc_country",
        "rb_clickid",
        "wickedid",
        "epik",
        "irclickid",
        "irgwc",
        "cjevent",
        "zanpid",
        "dicbo",
    }
)
# Parameter-name prefixes that only track: utm_source, pk_campaign, mtm_kwd, hsa_cam, pd_rd_w…
TRACKING_PREFIXES: tuple[str, ...] = (
    "utm_",
    "pk_",
    "piwik_",
    "mtm_",
    "hsa_",
    "__hs",
    "pd_rd_",
    "pf_rd_",
)

ALLOWED_SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
_LABEL = re.compile(r"^(?!-)[a-z0-9_\-]{1,63}(?<!-)$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Characters left alone when re-quoting a path: everything RFC 3986 allows, and '%' so that
# existing escapes stay as they are.
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?"


class InvalidURL(ValueError):
    """The text cannot be tracked; the message says why, in words for the user."""


def is_tracking_parameter(name: str) -> bool:
    key = unquote_plus(name).strip().lower()
    return key in TRACKING_PARAMETERS or key.startswith(TRACKING_PREFIXES)


def normalize_url(text: str) -> str:
    """The canonical form of a product page URL, or `InvalidURL` saying why there is none."""
    if not isinstance(text, str):
        raise InvalidURL("Enter the product page's URL as text.")
    candidate = text.strip()
    if not candidate:
        raise InvalidURL("Enter the product page's URL.")
    if len(candidate) > MAX_INPUT_LENGTH:
        raise InvalidURL(f"The URL is too long (more than {MAX_URL_LENGTH} characters).")
    if _CONTROL.search(candidate):
        raise InvalidURL("The URL contains control characters.")

    scheme_match = _SCHEME.match(candidate)
    # "shop.example:8080/p" and "localhost:8001/p" are hosts with ports, not schemes.
    looks_like_port = scheme_match is not None and candidate[scheme_match.end() :][:1].isdigit()
    if scheme_match and "." not in scheme_match.group(1) and not looks_like_port:
        scheme = scheme_match.group(1).lower()
        if scheme not in ALLOWED_SCHEMES:
            raise InvalidURL(f"Only http and https URLs can be tracked, not '{scheme}:' URLs.")
        if not candidate[len(scheme) + 1 :].startswith("//"):
            raise InvalidURL(f"'{_shorten(candidate)}' is not a URL: expected {scheme}://host/….")
    else:
        host_part = candidate.split("/", 1)[0].split(":", 1)[0].lower()
        if " " in candidate or ("." not in host_part and host_part != "localhost"):
            raise InvalidURL(
                f"'{_shorten(candidate)}' is not a URL; paste the product page's address, "
                "e.g. https://shop.example/product/123."
            )
        candidate = "https://" + candidate

    try:
        parts = urlsplit(candidate)
        port = parts.port
    except ValueError as exc:
        raise InvalidURL(f"'{_shorten(candidate)}' is not a valid URL: {exc}.") from exc
    scheme = parts.scheme.lower()
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise InvalidURL("URLs with a user name or password cannot be tracked.")
    host = _host(parts, candidate)
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != DEFAULT_PORTS[scheme]:
        if port == 0:
            raise InvalidURL("Port 0 is not a valid port.")
        netloc = f"{netloc}:{port}"

    path = quote(parts.path, safe=_PATH_SAFE) or "/"
    query = _clean_query(parts.query)
    fragment = parts.fragment if parts.fragment.startswith(("/", "!")) else ""
    fragment = quote(fragment, safe=_QUERY_SAFE + "#")
    normalized = urlunsplit((scheme, netloc, path, query, fragment))
    if len(normalized) > MAX_URL_LENGTH:
        raise InvalidURL(f"The URL is too long (more than {MAX_URL_LENGTH} characters).")
    return normalized


def url_host(url: str) -> str:
    """The host of a normalised URL, without brackets or port (what `Page.domain` stores)."""
    return urlsplit(url).hostname or ""


def url_port(url: str) -> int:
    parts = urlsplit(url)
    return parts.port or DEFAULT_PORTS.get(parts.scheme, 443)


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _host(parts: SplitResult, original: str) -> str:
    raw = parts.hostname  # lower-cased, brackets removed
    if not raw:
        raise InvalidURL(f"'{_shorten(original)}' has no host name.")
    if "%" in raw:
        raise InvalidURL(f"'{_shorten(raw)}' is not a valid host name or IP address.")
    try:
        return str(ipaddress.ip_address(raw))
    except ValueError:
        pass
    if "[" in parts.netloc:
        raise InvalidURL(f"'{raw}' is not a valid IPv6 address.")
    host = raw.rstrip(".")
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise InvalidURL(f"'{raw}' is not a valid host name.") from exc
    labels = ascii_host.split(".")
    if ascii_host == "localhost":
        return ascii_host  # the address check decides whether it may be fetched
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise InvalidURL(
            f"'{raw}' is not a valid host name; a shop's address looks like shop.example."
        )
    if labels[-1].isdigit():
        raise InvalidURL(f"'{raw}' is not a valid host name or IP address.")
    return ascii_host


def _clean_query(query: str) -> str:
    kept: list[tuple[str, str]] = []
    for pair in query.split("&"):
        if not pair:
            continue
        name = pair.split("=", 1)[0]
        if not name or is_tracking_parameter(name):
            continue
        kept.append((unquote_plus(name), quote(pair, safe=_QUERY_SAFE)))
    kept.sort(key=lambda item: item[0])  # stable: repeated names keep their order
    return "&".join(pair for _, pair in kept)

"""Hostile feed documents shared by the parser and importer tests."""

from __future__ import annotations

from pathlib import Path

G = "http://base.google.com/ns/1.0"
DECLARATION = '<?xml version="1.0"?>\n'

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss xmlns:g="http://base.google.com/ns/1.0"><channel><item>
<g:id>1</g:id><g:title>&lol9;</g:title><g:price>1 USD</g:price>
</item></channel></rss>
"""

QUADRATIC_BLOWUP = (
    b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "'
    + b"x" * 100_000
    + b'">]><rss xmlns:g="http://base.google.com/ns/1.0"><channel><item><g:id>1</g:id>'
    + b"<g:title>"
    + b"&a;" * 20_000
    + b"</g:title><g:price>1 USD</g:price></item></channel></rss>"
)


def passwd_line() -> str:
    # A line that is certainly in /etc/passwd on the test machine.
    return Path("/etc/passwd").read_text().splitlines()[0]


def xxe(system_id: str, prolog: str = DECLARATION) -> bytes:
    """An entity pointing at `system_id`, after `prolog` (what precedes the DOCTYPE)."""
    return (
        f'{prolog}<!DOCTYPE rss [<!ENTITY xxe SYSTEM "{system_id}">]>\n'
        f'<rss xmlns:g="{G}"><channel><item><g:id>1</g:id><g:title>&xxe;</g:title>'
        "<g:description>&xxe;</g:description><g:price>1 USD</g:price></item></channel></rss>"
    ).encode()

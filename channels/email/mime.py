"""A message's bytes, written out directly.

The stdlib's `EmailMessage` parses every header it is given into a tree and refolds it when
the message is flattened: about 1 ms a message, most of what sending mail costs the engine.
Kizuna's messages have one shape (a few headers, a text and/or HTML body in UTF-8), so they
are written here in the form that the stdlib's `SMTP` policy gives: header values as they
are when they are short printable ASCII, folded at spaces when long, RFC 2047 encoded words
(UTF-8, base64) otherwise; bodies in base64 lines of 76 characters; CRLF line ends.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Part", "address_header", "compose", "unstructured"]

#: The longest header line written before folding (RFC 5322 asks for 78 at most).
_LINE = 78
#: UTF-8 bytes in one encoded word: base64 makes 60 characters of them, and with
#: `=?utf-8?b?...?=` around them a word stays within RFC 2047's 75.
_WORD_BYTES = 45
_FOLD = "\r\n "
#: A word longer than this cannot be folded into a line within RFC 5322's 998 characters.
_LONGEST_WORD = 900


@dataclass(frozen=True, slots=True)
class Part:
    """One body: its MIME subtype (`plain`, `html`) and its text."""

    subtype: str
    text: str


def compose(headers: Sequence[tuple[str, str]], parts: Sequence[Part]) -> bytes:
    """The message: `headers` (values already as they go on the wire, see `unstructured`
    and `address_header`), then one part, or several as `multipart/alternative`."""
    lines = [f"{name}: {value}" for name, value in headers]
    lines.append("MIME-Version: 1.0")
    if len(parts) == 1:
        (part,) = parts
        lines += _part_headers(part)
        return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + _body(part)
    boundary = f"=_kizuna_{secrets.token_hex(12)}"  # "=_" never occurs in base64
    lines += [f'Content-Type: multipart/alternative; boundary="{boundary}"', ""]
    chunks = [("\r\n".join(lines) + "\r\n").encode("ascii")]
    for part in parts:
        head = [f"--{boundary}", *_part_headers(part), "", ""]
        chunks += ["\r\n".join(head).encode("ascii"), _body(part)]
    chunks.append(f"--{boundary}--\r\n".encode("ascii"))
    return b"".join(chunks)


def unstructured(value: str, name: str) -> str:
    """A free-text header value (`Subject`) for the header `name`: as it is, folded at its
    spaces when long, or as encoded words when it is not plain ASCII (or looks like them)."""
    if _plain(value) and all(len(word) < _LONGEST_WORD for word in value.split(" ")):
        return _folded(value, len(name) + 2)
    return _encoded_words(value)


def address_header(display_name: str, address: str) -> str:
    """`"Name" <address>`, or the name in encoded words."""
    if not display_name:
        return address
    if _plain(display_name) and len(display_name) <= _LINE - 20:
        quoted = display_name.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{quoted}" <{address}>'  # quoted, so its spaces are kept as they are
    return f"{_encoded_words(display_name)} <{address}>"


def _plain(value: str) -> bool:
    """Printable ASCII that no reader would decode as encoded words."""
    return value.isascii() and value.isprintable() and "=?" not in value


def _folded(value: str, used: int) -> str:
    """`value` with a line break before a space wherever a line would pass 78 characters;
    a reader unfolds it to the same text."""
    if used + len(value) <= _LINE:
        return value
    lines, line = [], ""
    for index, word in enumerate(value.split(" ")):
        piece = word if index == 0 else " " + word
        if line.strip() and used + len(line) + len(piece) > _LINE:
            lines.append(line)
            line, used = piece, 0
        else:
            line += piece
    lines.append(line)
    return "\r\n".join(lines)


def _encoded_words(value: str) -> str:
    """RFC 2047 words, UTF-8 in base64, one per line; a character is never split."""
    words: list[str] = []
    chunk: list[str] = []
    size = 0
    for character in value:
        width = len(character.encode("utf-8"))
        if size + width > _WORD_BYTES:
            words.append(_word("".join(chunk)))
            chunk.clear()
            size = 0
        chunk.append(character)
        size += width
    words.append(_word("".join(chunk)))
    return _FOLD.join(words)


def _word(text: str) -> str:
    return f"=?utf-8?b?{base64.b64encode(text.encode('utf-8')).decode('ascii')}?="


def _part_headers(part: Part) -> list[str]:
    return [
        f'Content-Type: text/{part.subtype}; charset="utf-8"',
        "Content-Transfer-Encoding: base64",
    ]


def _body(part: Part) -> bytes:
    """The text's lines ended by LF, as the stdlib writes a text body, in base64 lines.

    Base64 keeps the body 7-bit clean, so no relay re-encodes it (which would break a DKIM
    signature) and none needs 8BITMIME.
    """
    lines = part.text.encode("utf-8").splitlines()  # at CR and LF only, as the stdlib does
    return base64.encodebytes(b"\n".join(lines) + b"\n").replace(b"\n", b"\r\n")

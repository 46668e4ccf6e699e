"""Minimal DER encoding: the few constructions the fast CMS assembly in :mod:`.signing` needs."""

from __future__ import annotations


def length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(body),)) + body


def tlv(tag: int, content: bytes) -> bytes:
    return bytes((tag,)) + length(len(content)) + content


def sequence(*parts: bytes) -> bytes:
    return tlv(0x30, b"".join(parts))


def set_of(*parts: bytes) -> bytes:
    """A DER ``SET OF``: elements sorted by their encoding (X.690 11.6)."""
    return tlv(0x31, b"".join(sorted(parts)))


def octet_string(data: bytes) -> bytes:
    return tlv(0x04, data)


def oid(dotted: str) -> bytes:
    arcs = [int(a) for a in dotted.split(".")]
    body = bytearray((40 * arcs[0] + arcs[1],))
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    return tlv(0x06, bytes(body))


def retag(encoded: bytes, tag: int) -> bytes:
    """The same TLV under another tag (IMPLICIT tagging of a constructed value)."""
    return bytes((tag,)) + encoded[1:]

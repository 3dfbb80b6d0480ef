"""Small real files for media tests: each starts with its format's magic bytes."""

import base64
import io

from PIL import Image


def png_bytes(color: str | tuple[int, int, int] = (200, 10, 10)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), color).save(buffer, format="PNG")
    return buffer.getvalue()


def webp_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", (8, 8), (0, 200, 0, 255)).save(buffer, format="WEBP")
    return buffer.getvalue()


def ogg_opus_bytes() -> bytes:
    """An OGG page header with an OpusHead packet (enough for sniffing)."""
    head = b"OpusHead" + bytes([1, 1, 0x38, 0x01, 0x80, 0xBB, 0, 0, 0, 0, 0])
    page = b"OggS" + bytes([0, 2]) + bytes(8) + bytes(4) + bytes(4) + bytes(4) + bytes([1])
    return page + bytes([len(head)]) + head + bytes(200)


def mp4_bytes() -> bytes:
    return b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(64)


def mp3_bytes() -> bytes:
    return b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" + bytes(400)


def pdf_bytes() -> bytes:
    return b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


HTML = b"<!DOCTYPE html><html><head><title>x</title></head><body>hi</body></html>"

"""A PDF whose pages are PNG drawings, each embedded as it is: its compressed pixel data become the page's
image as they stand (PDF's Flate filter with PNG predictors reads them), so nothing is decoded, drawn or
compressed again.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_RGB = 2
_POINTS_PER_INCH = 72


def rgb_png(png: bytes) -> bytes:
    """``png`` as an 8-bit RGB PNG, the form pages embed (re-encoded only if it is not one already)."""
    _, _, depth, color, interlace, _ = _parse(png)
    if (depth, color, interlace) == (8, _RGB, 0):
        return png
    from PIL import Image

    out = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("RGB").save(out, format="png")
    return out.getvalue()


def _parse(png: bytes):
    """``(width, height, bit depth, colour type, interlace, IDAT data)`` of a PNG."""
    if not png.startswith(_SIGNATURE):
        raise ValueError("not a PNG image")
    at, header, data = len(_SIGNATURE), None, []
    while at < len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        kind = png[at + 4 : at + 8]
        body = png[at + 8 : at + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            data.append(body)
        elif kind == b"IEND":
            break
        at += 12 + length
    if header is None or not data:
        raise ValueError("a PNG image without a header or pixel data")
    width, height, depth, color, _compression, _filter, interlace = header
    return width, height, depth, color, interlace, b"".join(data)


def _text(value: str) -> bytes:
    """A PDF text string that holds any character (UTF-16 with its byte-order mark)."""
    return b"<" + ("\ufeff" + value).encode("utf-16-be").hex().encode() + b">"


def write_png_pdf(path, pages, *, title: str, creator: str) -> Path:
    """Write a PDF of one page per ``(png, (width, height))``, each page that size in inches.

    Parameters
    ----------
    path : str or Path
        Output file (written whole, then moved into place).
    pages : iterable of (bytes, (float, float))
        Each page's 8-bit RGB PNG (see :func:`rgb_png`) and its size in inches.
    title, creator : str
        The document's information.
    """
    path = Path(path)
    objects: list[bytes] = []  # object n is objects[n - 1]

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog, tree = add(b""), add(b"")  # filled in once the pages are known
    kids = []
    for png, size in pages:
        width, height, depth, color, interlace, data = _parse(png)
        if (depth, color, interlace) != (8, _RGB, 0):
            raise ValueError("pages must be 8-bit RGB PNG images without interlacing (see rgb_png)")
        parameters = f"/Predictor 15 /Colors 3 /BitsPerComponent 8 /Columns {width}".encode()
        image = add(
            b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB "
            b"/BitsPerComponent 8 /Filter /FlateDecode /DecodeParms << %s >> /Length %d >>"
            b"\nstream\n%s\nendstream" % (width, height, parameters, len(data), data)
        )
        w, h = (f"{inches * _POINTS_PER_INCH:.3f}".encode() for inches in size)
        drawing = b"q %s 0 0 %s 0 0 cm /Im0 Do Q" % (w, h)
        content = add(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(drawing), drawing))
        kids.append(
            add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %s %s] "
                b"/Resources << /XObject << /Im0 %d 0 R >> >> /Contents %d 0 R >>"
                % (tree, w, h, image, content)
            )
        )
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % tree
    refs = b" ".join(b"%d 0 R" % k for k in kids)
    objects[tree - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (refs, len(kids))
    info = add(b"<< /Title %s /Creator %s >>" % (_text(title), _text(creator)))

    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % offset for offset in offsets))
    out.write(
        b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
        % (len(objects) + 1, catalog, info, xref)
    )
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_bytes(out.getvalue())
    tmp.replace(path)
    return path

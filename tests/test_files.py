"""Attached files (SPEC §2, §9): checked by content, images cleaned of location, stored
encrypted under server-generated names, downloaded only through the permission check.
"""

import io
import json
import random
import struct
import uuid
import zipfile
import zlib
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.exceptions import InvalidTag

from server.audit.models import AuditEvent
from server.clock import utcnow
from server.extensions import db
from server.incidents import files
from server.incidents.models import Incident, IncidentFile

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n"
LATITUDE = struct.pack(">IIIIII", 51, 1, 30, 1, 1234, 100)  # 51° 30' 12.34"


def _zip(names: list[str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            archive.writestr(name, "<x/>")
    return buffer.getvalue()


def _ole(stream_name: str) -> bytes:
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500) + stream_name.encode("utf-16-le")


def jpeg_with_location(orientation: int = 6) -> bytes:
    """A JPEG whose EXIF holds an orientation and a GPS latitude, plus an XMP packet."""
    entries = struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0)
    entries += struct.pack(">HHII", 0x8825, 4, 1, 38)  # GPS IFD at offset 38
    ifd0 = struct.pack(">H", 2) + entries + struct.pack(">I", 0)
    gps = struct.pack(">H", 1) + struct.pack(">HHII", 0x0002, 5, 3, 56) + struct.pack(">I", 0)
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8) + ifd0 + gps + LATITUDE
    exif = b"Exif\x00\x00" + tiff
    xmp = b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta exif:GPSLatitude='51,30.2N'/>"
    jfif = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"

    def segment(marker: int, body: bytes) -> bytes:
        return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body

    scan = segment(0xDA, b"\x01\x01\x00\x00\x3f\x00") + b"\x12\x34\xff\x00\x56" + b"\xff\xd9"
    return (
        b"\xff\xd8"
        + segment(0xE0, jfif)
        + segment(0xE1, exif)
        + segment(0xE1, xmp)
        + segment(0xDB, bytes(65))
        + scan
    )


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_with_location() -> bytes:
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"eXIf", b"MM\x00\x2aGPS" + LATITUDE)
        + _png_chunk(b"tEXt", b"Location\x0051.5033,-0.1196")
        + _png_chunk(b"IDAT", zlib.compress(b"\x00\x00"))
        + _png_chunk(b"IEND", b"")
    )


def _riff_chunk(kind: bytes, data: bytes) -> bytes:
    return kind + struct.pack("<I", len(data)) + data + (b"\x00" if len(data) % 2 else b"")


def webp_with_location() -> bytes:
    body = (
        b"WEBP"
        + _riff_chunk(b"VP8X", bytes([0x0C | 0x10, 0, 0, 0]) + bytes(6))
        + _riff_chunk(b"VP8L", b"\x2f\x00\x00\x00\x00")
        + _riff_chunk(b"EXIF", b"MM\x00\x2aGPS" + LATITUDE)
        + _riff_chunk(b"XMP ", b"<x exif:GPSLatitude='51'/>")
    )
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _full_box(kind: bytes, version: int, payload: bytes) -> bytes:
    return _box(kind, bytes([version, 0, 0, 0]) + payload)


HEVC = b"HEVC-CODED-PICTURE-DATA"
HEIC_EXIF = b"\x00\x00\x00\x06Exif\x00\x00MM\x00*GPS" + LATITUDE
HEIC_XMP = b"<x:xmpmeta exif:GPSLatitude='51,30.2N'/>"


def heic_with_location(method: int = 0) -> bytes:
    """A HEIF file: a picture item, an Exif item and an XMP item, all located in `mdat`."""

    def infe(item_id: int, item_type: bytes, content_type: bytes = b"") -> bytes:
        payload = struct.pack(">HH", item_id, 0) + item_type + b"\x00" + content_type
        return _full_box(b"infe", 2, payload)

    iinf = _full_box(
        b"iinf",
        0,
        struct.pack(">H", 3)
        + infe(1, b"hvc1")
        + infe(2, b"Exif")
        + infe(3, b"mime", b"application/rdf+xml\x00"),
    )

    def meta_for(offsets: list[int]) -> bytes:
        body = bytes([0x44, 0x00]) + struct.pack(">H", 3)
        for item_id, (offset, item) in enumerate(zip(offsets, parts, strict=True), start=1):
            body += struct.pack(">HHHH", item_id, method if item_id > 1 else 0, 0, 1)
            body += struct.pack(">II", offset, len(item))
        hdlr = _full_box(b"hdlr", 0, bytes(4) + b"pict" + bytes(12) + b"\x00")
        return _full_box(b"meta", 0, hdlr + iinf + _full_box(b"iloc", 1, body))

    ftyp = _box(b"ftyp", b"heic\x00\x00\x00\x00mif1heic")
    parts = [HEVC, HEIC_EXIF, HEIC_XMP]
    start = len(ftyp) + len(meta_for([0, 0, 0])) + 8
    offsets = [start, start + len(HEVC), start + len(HEVC) + len(HEIC_EXIF)]
    return ftyp + meta_for(offsets) + _box(b"mdat", b"".join(parts))


ACCEPTED = [
    ("pdf", PDF, "application/pdf"),
    ("jpeg", jpeg_with_location(), "image/jpeg"),
    ("png", png_with_location(), "image/png"),
    ("gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "image/gif"),
    ("webp", webp_with_location(), "image/webp"),
    ("heic", heic_with_location(), "image/heic"),
    (
        "docx",
        _zip(["[Content_Types].xml", "word/document.xml"]),
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    (
        "xlsx",
        _zip(["[Content_Types].xml", "xl/workbook.xml"]),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    (
        "pptx",
        _zip(["[Content_Types].xml", "ppt/presentation.xml"]),
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ),
    ("doc", _ole("WordDocument"), "application/msword"),
    ("xls", _ole("Workbook"), "application/vnd.ms-excel"),
    ("text", "Notes from the meeting – “as said”.\n".encode(), "text/plain"),
]

REFUSED = [
    ("windows executable", b"MZ\x90\x00" + bytes(100)),
    ("linux executable", b"\x7fELF\x02\x01\x01" + bytes(100)),
    ("plain zip", _zip(["payload.bin"])),
    ("jar-like zip", _zip(["META-INF/MANIFEST.MF", "a.class"])),
    ("installer (compound file)", _ole("SummaryInformation")),
    ("binary", bytes(range(256))),
    ("not utf-8", b"caf\xe9 \xff\xfe"),
]


@pytest.mark.parametrize("label, data, content_type", ACCEPTED, ids=[a[0] for a in ACCEPTED])
def test_accepted_kinds_are_recognised_by_content(label, data, content_type):
    assert files.sniff(data) == content_type


@pytest.mark.parametrize("label, data", REFUSED, ids=[r[0] for r in REFUSED])
def test_other_content_is_refused_whatever_it_is_called(label, data):
    with pytest.raises(files.FileRefused) as refused:
        files.check_upload(files.Upload("report.pdf", data))
    assert "“report.pdf” is not a PDF, image, Office document or plain text file" in str(
        refused.value
    )


def test_size_limit_is_20_mb_each():
    files.check_upload(files.Upload("max.pdf", PDF.ljust(files.MAX_FILE_BYTES, b" ")))
    with pytest.raises(files.FileRefused) as refused:
        files.check_upload(files.Upload("big.pdf", PDF.ljust(files.MAX_FILE_BYTES + 1, b" ")))
    assert refused.value.status == 413


def test_empty_file_is_refused():
    with pytest.raises(files.FileRefused):
        files.check_upload(files.Upload("empty.txt", b""))


def test_jpeg_loses_its_location_but_keeps_its_orientation_and_picture():
    original = jpeg_with_location(orientation=6)
    cleaned = files.strip_location("image/jpeg", original)
    assert LATITUDE not in cleaned and b"GPS" not in cleaned
    assert cleaned.startswith(b"\xff\xd8\xff\xe0")  # JFIF still first
    assert cleaned.endswith(b"\x12\x34\xff\x00\x56\xff\xd9")  # the scan untouched
    assert files._exif_orientation(cleaned.split(b"Exif\x00\x00")[1]) == 6
    assert files.sniff(cleaned) == "image/jpeg"


def test_jpeg_that_is_upright_gets_no_exif_at_all():
    cleaned = files.strip_location("image/jpeg", jpeg_with_location(orientation=1))
    assert b"Exif" not in cleaned


def test_png_loses_its_metadata_chunks():
    cleaned = files.strip_location("image/png", png_with_location())
    assert b"eXIf" not in cleaned and b"tEXt" not in cleaned and b"51.5033" not in cleaned
    for kind in (b"IHDR", b"IDAT", b"IEND"):
        assert kind in cleaned


def test_webp_loses_its_metadata_chunks_and_flags():
    cleaned = files.strip_location("image/webp", webp_with_location())
    assert b"EXIF" not in cleaned and b"XMP " not in cleaned and LATITUDE not in cleaned
    assert struct.unpack("<I", cleaned[4:8])[0] == len(cleaned) - 8
    assert cleaned[20] & 0x0C == 0 and cleaned[20] & 0x10  # alpha flag kept
    assert b"VP8L" in cleaned


def test_heic_loses_its_exif_and_xmp_items_in_place():
    original = heic_with_location()
    assert HEIC_EXIF in original
    cleaned = files.strip_location("image/heic", original)
    assert len(cleaned) == len(original)
    assert LATITUDE not in cleaned and b"GPSLatitude" not in cleaned
    assert HEVC in cleaned
    assert files.sniff(cleaned) == "image/heic"


@pytest.mark.parametrize(
    "damaged",
    [heic_with_location(method=2), heic_with_location()[:60]],
    ids=["metadata by item reference", "truncated"],
)
def test_heic_whose_metadata_cannot_be_blanked_is_refused(damaged):
    with pytest.raises(files.FileRefused) as refused:
        files.check_upload(files.Upload("IMG_0001.HEIC", damaged))
    assert "Attach it as a JPEG" in str(refused.value)


def test_download_name_matches_what_the_file_is():
    assert files.download_name("Letter.PDF", "application/pdf") == "Letter.PDF"
    assert files.download_name("page.html", "text/plain") == "page.html.txt"
    assert files.download_name("photo.png", "image/jpeg") == "photo.png.jpg"


def test_names_are_cleaned_of_paths_and_odd_characters():
    checked = files.check_upload(files.Upload('..\\..\\C:\\evil"<name>.txt', b"hello\n"))
    assert checked.original_name == "evilname.txt"


def test_stored_encrypted_and_tamper_evident(app):
    with app.app_context():
        name = files.store(b"Private notes about a child.")
        path = app.config["UPLOAD_DIR"] / name
        raw = path.read_bytes()
        assert b"Private notes" not in raw
        assert files.load(name) == b"Private notes about a child."
        path.write_bytes(raw[:-1] + bytes([raw[-1] ^ 1]))
        with pytest.raises(InvalidTag):
            files.load(name)
        files.discard([name])
        assert not path.exists()


def test_the_file_key_setting_is_used_when_given(app, monkeypatch):
    with app.app_context():
        monkeypatch.setitem(app.config, "FILE_ENCRYPTION_KEY", "a-long-random-file-key")
        name = files.store(b"Sealed under the file key.")
        assert files.load(name) == b"Sealed under the file key."
        monkeypatch.setitem(app.config, "FILE_ENCRYPTION_KEY", "")
        with pytest.raises(InvalidTag):
            files.load(name)
        files.discard([name])


# --- Through HTTP -------------------------------------------------------------------------


def _submit(client, school, attachments):
    body = {
        "uuid": str(uuid.uuid4()),
        "pupil_id": school.ada,
        "occurred_at": (utcnow() - timedelta(minutes=5)).isoformat(),
        "account": "Photo of the graze attached.",
        "parents_contacted": "yes",
        "medical_attention": "no",
        "category_ids": [school.vocabulary["Medical / first aid"]],
    }
    data = {
        "incident": json.dumps(body),
        "files": [(io.BytesIO(content), name) for name, content in attachments],
    }
    return client.post("/api/incidents", data=data, content_type="multipart/form-data")


def test_uploaded_photo_downloads_without_its_location(app, client, sign_in, school):
    sign_in(school.staff)
    response = _submit(client, school, [("IMG_0042.jpg", jpeg_with_location())])
    assert response.status_code == 201, response.get_json()
    number = response.get_json()["number"]
    with app.app_context():
        attached = db.session.scalars(sa.select(IncidentFile)).one()
        assert "IMG_0042" not in attached.stored_name
        assert (app.config["UPLOAD_DIR"] / attached.stored_name).exists()
        file_id = attached.id
    download = client.get(f"/incidents/{number}/files/{file_id}")
    assert download.status_code == 200
    assert download.headers["Content-Disposition"] == "attachment; filename=IMG_0042.jpg"
    assert download.headers["Content-Type"] == "image/jpeg"
    assert download.headers["Cache-Control"] == "no-store"
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert LATITUDE not in download.data and download.data.startswith(b"\xff\xd8")
    with app.app_context():
        assert (
            db.session.scalar(
                sa.select(sa.func.count(AuditEvent.id)).where(
                    AuditEvent.action == "incident.file_downloaded"
                )
            )
            == 1
        )


def test_a_name_beyond_ascii_downloads_under_its_own_name(app, client, sign_in, school):
    sign_in(school.staff)
    number = _submit(client, school, [("Letter – Ada’s mum.pdf", PDF)]).get_json()["number"]
    with app.app_context():
        file_id = db.session.scalars(sa.select(IncidentFile.id)).one()
    download = client.get(f"/incidents/{number}/files/{file_id}")
    disposition = download.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''Letter%20%E2%80%93%20Ada%E2%80%99s%20mum.pdf" in disposition


def test_several_files_larger_together_than_one_are_accepted(app, client, sign_in, school):
    sign_in(school.staff)
    eleven_mb = PDF.ljust(11 * 1024 * 1024, b" ")
    response = _submit(client, school, [("a.pdf", eleven_mb), ("b.pdf", eleven_mb)])
    assert response.status_code == 201, response.status_code


def test_too_many_files_are_refused(client, sign_in, school):
    sign_in(school.staff)
    response = _submit(client, school, [(f"{n}.txt", b"note\n") for n in range(11)])
    assert response.status_code == 422
    assert response.get_json()["fields"]["files"] == "Attach up to 10 files."


def test_the_upload_directory_is_outside_the_web_root(app):
    from server.config import Config

    static = (Path(app.static_folder)).resolve()
    for directory in (Config.UPLOAD_DIR, app.config["UPLOAD_DIR"]):
        assert static not in Path(directory).resolve().parents


# --- Damaged and crafted images: refused as "could not be checked", never a 500 ----------

# RIFF + size + WEBP + a VP8X chunk that claims no bytes (its flags byte is missing).
CRAFTED_WEBP = b"RIFF" + struct.pack("<I", 12) + b"WEBP" + b"VP8X" + struct.pack("<I", 0)


def test_crafted_webp_is_refused_as_unreadable():
    with pytest.raises(files.FileRefused) as refused:
        files.check_upload(files.Upload("sticker.webp", CRAFTED_WEBP))
    assert refused.value.status == 422
    assert "could not be checked" in refused.value.message


def test_jpeg_with_bytes_out_of_step_before_its_exif_is_refused_not_passed_through():
    original = jpeg_with_location()
    garbled = original[:2] + b"\x00" + original[2:]  # the EXIF would have been kept whole
    with pytest.raises(files.FileRefused) as refused:
        files.strip_location("image/jpeg", garbled)
    assert "could not be checked" in refused.value.message


def test_crafted_webp_upload_gets_422_and_nothing_is_written(app, client, sign_in, school):
    sign_in(school.staff)
    response = _submit(client, school, [("sticker.webp", CRAFTED_WEBP)])
    assert response.status_code == 422, response.get_data(as_text=True)
    assert "could not be checked" in response.get_json()["message"]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(IncidentFile.id))) == 0
        assert db.session.scalar(sa.select(sa.func.count(Incident.id))) == 0


def _damaged_versions(original: bytes, seed: int) -> list[bytes]:
    """Every truncation, and a fixed set of copies with a few bytes garbled."""
    rng = random.Random(seed)
    versions = [original[:cut] for cut in range(len(original))]
    for _ in range(300):
        damaged = bytearray(original)
        for _ in range(rng.randint(1, 4)):
            damaged[rng.randrange(len(damaged))] = rng.choice(
                (0x00, 0xFF, 0x7F, rng.randrange(256))
            )
        versions.append(bytes(damaged))
    return versions


@pytest.mark.parametrize(
    "content_type, original",
    [
        ("image/jpeg", jpeg_with_location()),
        ("image/png", png_with_location()),
        ("image/webp", webp_with_location()),
        ("image/heic", heic_with_location()),
    ],
    ids=["jpeg", "png", "webp", "heic"],
)
def test_damaged_images_are_cleaned_or_refused_never_anything_else(content_type, original):
    for seed, damaged in enumerate(_damaged_versions(original, seed=len(original))):
        try:
            cleaned = files.strip_location(content_type, damaged)
        except files.FileRefused as refused:
            assert refused.status == 422 and "could not be checked" in refused.message, seed
        else:
            assert isinstance(cleaned, bytes), seed


def crafted_heic_with_endless_extents(items: int = 150, extents: int = 65_535) -> bytes:
    """The review's 1,287-byte file: an `iloc` box whose field sizes are all zero, so each of
    its 150 items' 65,535 extents takes no bytes at all, and a loop over them never advances."""
    iinf = _full_box(
        b"iinf",
        0,
        struct.pack(">H", 1) + _full_box(b"infe", 2, struct.pack(">HH", 1, 0) + b"Exif\x00"),
    )
    body = bytes([0x00, 0x00]) + struct.pack(">H", items)
    body += b"".join(struct.pack(">HHH", item_id, 0, extents) for item_id in range(1, items + 1))
    hdlr = _full_box(b"hdlr", 0, bytes(4) + b"pict" + bytes(12) + b"\x00")
    meta = _full_box(b"meta", 0, hdlr + iinf + _full_box(b"iloc", 0, body))
    ftyp = _box(b"ftyp", b"heic\x00\x00\x00\x00mif1heic")
    return ftyp + meta + _box(b"mdat", bytes(256))


def test_heic_declaring_millions_of_empty_extents_is_refused_after_bounded_work(monkeypatch):
    crafted = crafted_heic_with_endless_extents()
    assert len(crafted) < 1_300 and files.sniff(crafted) == "image/heic"
    fields_read = 0
    original_uint = files._BoxReader.uint

    def counting_uint(self, size):
        nonlocal fields_read
        fields_read += 1
        return original_uint(self, size)

    monkeypatch.setattr(files._BoxReader, "uint", counting_uint)
    with pytest.raises(files.FileRefused, match="Attach it as a JPEG"):
        files.check_upload(files.Upload("IMG_0002.HEIC", crafted))
    # 150 items × 65,535 extents would be ten million reads; the refusal comes within the caps.
    assert fields_read < 10 * files.MAX_HEIC_ITEMS


def test_heic_declaring_more_items_than_its_box_holds_is_refused():
    crafted = crafted_heic_with_endless_extents(items=150, extents=1)
    truncated_count = crafted.replace(struct.pack(">H", 150), struct.pack(">H", 60_000), 1)
    with pytest.raises(files.FileRefused):
        files.check_upload(files.Upload("IMG_0003.HEIC", truncated_count))

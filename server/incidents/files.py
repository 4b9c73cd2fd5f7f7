"""Attached files (SPEC §2, §9): checked by content, location metadata removed from images,
stored encrypted outside the web root under server-generated names.
"""

import hashlib
import io
import os
import secrets
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

from server.errors import Refused

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_FILES = 10
ACCEPTED_FILE_TYPES = [
    ".pdf", ".jpg", ".jpeg", ".png", ".heic", ".gif", ".webp",
    ".docx", ".xlsx", ".pptx", ".doc", ".xls", ".txt",
    "application/pdf", "image/jpeg", "image/png", "image/heic", "image/gif", "image/webp",
    "text/plain",
]  # fmt: skip

# Content type -> the extensions a file of that type may carry when downloaded.
EXTENSIONS = {
    "application/pdf": (".pdf",),
    "image/jpeg": (".jpg", ".jpeg"),
    "image/png": (".png",),
    "image/gif": (".gif",),
    "image/webp": (".webp",),
    "image/heic": (".heic", ".heif"),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (".docx",),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (".xlsx",),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": (".pptx",),
    "application/msword": (".doc",),
    "application/vnd.ms-excel": (".xls",),
    "text/plain": (".txt",),
}
_OOXML_PARTS = {
    "word/": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xl/": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt/": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
_HEIC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_STORED_MAGIC = b"HVF1"  # under the master key (before per-file keys)
_KEYED_MAGIC = b"HVF2"  # under a data key of its own, wrapped in file_keys


class FileRefused(Refused):
    """An upload that is not accepted (type, size, content), with the reason."""


@dataclass(frozen=True)
class Upload:
    """A file as received: its name as the user's device gave it, and its bytes."""

    filename: str
    data: bytes


@dataclass(frozen=True)
class CheckedFile:
    original_name: str
    content_type: str
    data: bytes  # what will be stored: images already cleaned of location metadata

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


# --- What a file is, by its content ------------------------------------------------------


def sniff(data: bytes) -> str | None:
    """The content type of an accepted kind of file, judged by its bytes; None otherwise."""
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:8] == b"ftyp" and data[8:12] in _HEIC_BRANDS:
        return "image/heic"
    if data.startswith(b"PK\x03\x04"):
        return _sniff_ooxml(data)
    if data.startswith(_OLE_MAGIC):
        return _sniff_ole(data)
    if _is_plain_text(data):
        return "text/plain"
    return None


def _sniff_ooxml(data: bytes) -> str | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, ValueError):
        return None
    if "[Content_Types].xml" not in names:
        return None
    for prefix, content_type in _OOXML_PARTS.items():
        if any(name.startswith(prefix) for name in names):
            return content_type
    return None


def _sniff_ole(data: bytes) -> str | None:
    """Word 97–2003 and Excel 97–2003 files; other compound files (installers) are refused."""
    if "WordDocument".encode("utf-16-le") in data:
        return "application/msword"
    if "Workbook".encode("utf-16-le") in data or "Book\x00".encode("utf-16-le") in data:
        return "application/vnd.ms-excel"
    return None


def _is_plain_text(data: bytes) -> bool:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return not any(ord(ch) < 32 and ch not in "\t\n\r\f" for ch in text)


def check_upload(upload: Upload) -> CheckedFile:
    """Refuse what is too large or not an accepted kind; clean images of location metadata."""
    name = _clean_name(upload.filename)
    if len(upload.data) > MAX_FILE_BYTES:
        raise FileRefused(f"“{name}” is larger than 20 MB.", status=413)
    if not upload.data:
        raise FileRefused(f"“{name}” is empty.")
    content_type = sniff(upload.data)
    if content_type is None:
        raise FileRefused(
            f"“{name}” is not a PDF, image, Office document or plain text file, "
            "so it cannot be attached."
        )
    data = strip_location(content_type, upload.data)
    return CheckedFile(original_name=name, content_type=content_type, data=data)


def _clean_name(filename: str | None) -> str:
    name = os.path.basename((filename or "").replace("\\", "/")).strip()
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '"<>:|?*')
    return name[:200] or "file"


def download_name(original_name: str, content_type: str) -> str:
    """The name to download under, with an extension that matches what the file really is."""
    extensions = EXTENSIONS[content_type]
    if original_name.lower().endswith(extensions):
        return original_name
    return original_name + extensions[0]


# --- Removing location metadata ----------------------------------------------------------


_UNREADABLE_IMAGE = (
    "This image could not be checked for location data, so it cannot be attached. "
    "Save it again as a JPEG or PNG (or take a screenshot of it) and attach that."
)
# What a stripper's reading of damaged or crafted bytes can raise.
_PARSING_ERRORS = (IndexError, KeyError, ValueError, OverflowError, struct.error)


def strip_location(content_type: str, data: bytes) -> bytes:
    """`data` with its location metadata removed, or FileRefused when the image cannot be
    read well enough to be sure of that: never any other error, whatever the bytes."""
    stripper = _STRIPPERS.get(content_type)
    if stripper is None:
        return data
    try:
        return stripper(data)
    except FileRefused:
        raise
    except _PARSING_ERRORS:
        raise FileRefused(_UNREADABLE_IMAGE) from None


def strip_jpeg_metadata(data: bytes) -> bytes:
    """Drop EXIF, XMP and IPTC segments (where GPS lives), keeping only the orientation."""
    out = [data[:2]]
    orientation = None
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            # Not a segment where one must be: what follows cannot be checked for metadata.
            raise ValueError("JPEG segments out of step")
        marker = data[position + 1]
        if marker == 0xD9 or marker == 0xDA:  # end of image, or start of scan: the rest is data
            break
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            out.append(data[position : position + 2])
            position += 2
            continue
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        segment = data[position : position + 2 + length]
        if marker == 0xE1 and segment[4:10] == b"Exif\x00\x00":
            orientation = orientation or _exif_orientation(segment[10:])
        if marker not in (0xE1, 0xED):  # APP1 (EXIF, XMP) and APP13 (IPTC)
            out.append(segment)
        position += 2 + length
    if orientation and orientation != 1:
        after_jfif = 2 if len(out) > 1 and out[1][:2] == b"\xff\xe0" else 1
        out.insert(after_jfif, _orientation_segment(orientation))
    out.append(data[position:])
    return b"".join(out)


def _exif_orientation(tiff: bytes) -> int | None:
    try:
        order = {b"II": "<", b"MM": ">"}[tiff[:2]]
        (offset,) = struct.unpack(order + "I", tiff[4:8])
        (count,) = struct.unpack(order + "H", tiff[offset : offset + 2])
        for index in range(count):
            entry = tiff[offset + 2 + 12 * index : offset + 14 + 12 * index]
            tag, kind = struct.unpack(order + "HH", entry[:4])
            if tag == 0x0112 and kind == 3:
                (value,) = struct.unpack(order + "H", entry[8:10])
                return value if 1 <= value <= 8 else None
    except (KeyError, struct.error):
        return None
    return None


def _orientation_segment(orientation: int) -> bytes:
    """A minimal EXIF segment holding the orientation alone, so photos still display upright."""
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8)
    tiff += struct.pack(">H", 1) + struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0)
    tiff += struct.pack(">I", 0)
    body = b"Exif\x00\x00" + tiff
    return b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body


_PNG_METADATA_CHUNKS = {b"eXIf", b"tEXt", b"zTXt", b"iTXt", b"tIME"}


def strip_png_metadata(data: bytes) -> bytes:
    out = [data[:8]]
    position = 8
    while position + 8 <= len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        end = position + 12 + length
        if kind not in _PNG_METADATA_CHUNKS:
            out.append(data[position:end])
        position = end
        if kind == b"IEND":
            break
    return b"".join(out)


def strip_webp_metadata(data: bytes) -> bytes:
    chunks = []
    position = 12
    while position + 8 <= len(data):
        kind = data[position : position + 4]
        (length,) = struct.unpack("<I", data[position + 4 : position + 8])
        end = position + 8 + length + (length & 1)
        chunk = data[position:end]
        if kind == b"VP8X":
            # Clear the "has EXIF" and "has XMP" flags to match the dropped chunks.
            chunk = chunk[:8] + bytes([chunk[8] & ~0x0C & 0xFF]) + chunk[9:]
        if kind not in (b"EXIF", b"XMP "):
            chunks.append(chunk)
        position = end
    body = b"WEBP" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def strip_heic_metadata(data: bytes) -> bytes:
    """Blank the Exif and XMP items of a HEIF image where they lie, so every offset stays valid.

    An image whose metadata cannot be found for certain is refused rather than kept with it.
    """
    try:
        return _blank_heic_items(data)
    except (IndexError, ValueError, struct.error):
        raise FileRefused(
            "This HEIC photo could not be checked for location data. "
            "Attach it as a JPEG instead (on an iPad: share it, then “Save as JPEG”)."
        ) from None


def _boxes(data: bytes, start: int, end: int):
    """(type, payload start, end) of each ISO-BMFF box between `start` and `end`."""
    position = start
    while position + 8 <= end:
        size, kind = struct.unpack(">I4s", data[position : position + 8])
        header = 8
        if size == 1:
            (size,) = struct.unpack(">Q", data[position + 8 : position + 16])
            header = 16
        elif size == 0:
            size = end - position
        if size < header or position + size > end:
            raise ValueError("box outside its parent")
        yield kind, position + header, position + size
        position += size


def _child(data: bytes, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    for found, payload, box_end in _boxes(data, start, end):
        if found == kind:
            return payload, box_end
    return None


def _uint(data: bytes, position: int, size: int) -> tuple[int, int]:
    return int.from_bytes(data[position : position + size], "big"), position + size


_STRIPPERS = {
    "image/jpeg": strip_jpeg_metadata,
    "image/png": strip_png_metadata,
    "image/webp": strip_webp_metadata,
    "image/heic": strip_heic_metadata,
}


def _blank_heic_items(data: bytes) -> bytes:
    meta = _child(data, 0, len(data), b"meta")
    if meta is None:
        return data
    children = (meta[0] + 4, meta[1])  # meta is a full box: skip version and flags
    iinf, iloc = _child(data, *children, b"iinf"), _child(data, *children, b"iloc")
    if iinf is None or iloc is None:
        return data
    wanted = _metadata_item_ids(data, *iinf)
    if not wanted:
        return data
    idat = _child(data, *children, b"idat")
    cleaned = bytearray(data)
    for offset, length in _item_extents(data, *iloc, wanted, idat):
        if offset + length > len(data):
            raise ValueError("extent outside the file")
        cleaned[offset : offset + length] = bytes(length)
    return bytes(cleaned)


def _metadata_item_ids(data: bytes, start: int, end: int) -> set[int]:
    version = data[start]
    position = start + 4 + (2 if version == 0 else 4)
    ids = set()
    for kind, payload, box_end in _boxes(data, position, end):
        if kind != b"infe":
            continue
        infe_version = data[payload]
        if infe_version < 2:
            continue  # old-style entries carry no item type, so no Exif or XMP item
        item_id, cursor = _uint(data, payload + 4, 2 if infe_version == 2 else 4)
        item_type = data[cursor + 2 : cursor + 6]
        content_type = data[cursor + 6 : box_end].split(b"\x00")[1:2]
        if item_type == b"Exif" or (
            item_type == b"mime" and content_type == [b"application/rdf+xml"]
        ):
            ids.add(item_id)
    return ids


# Far beyond any real photo (an iPhone's gridded HEIC has a few dozen items): a crafted file
# can declare 65,535 items of 65,535 extents each, which must cost a refusal, not minutes of CPU.
MAX_HEIC_ITEMS = 1024
MAX_HEIC_EXTENTS = 4096
_ILOC_FIELD_SIZES = (0, 4, 8)


class _BoxReader:
    """Reads big-endian fields of one box, refusing to read past its end."""

    def __init__(self, data: bytes, start: int, end: int):
        self.data, self.position, self.end = data, start, end

    def uint(self, size: int) -> int:
        if self.position + size > self.end:
            raise ValueError("item locations run past their box")
        value = int.from_bytes(self.data[self.position : self.position + size], "big")
        self.position += size
        return value

    def remaining(self) -> int:
        return self.end - self.position


def _item_extents(data, start, end, wanted, idat) -> list[tuple[int, int]]:
    """(file offset, length) of every extent of the `wanted` items in an `iloc` box.

    Every count is checked against the bytes the box really holds before it is looped over,
    and items and extents are capped, so the work is bounded by the file's size.
    """
    box = _BoxReader(data, start, end)
    version = box.uint(1)
    box.uint(3)  # flags
    sizes = box.uint(1)
    offset_size, length_size = sizes >> 4, sizes & 0x0F
    sizes = box.uint(1)
    base_size = sizes >> 4
    index_size = sizes & 0x0F if version in (1, 2) else 0
    if {offset_size, length_size, base_size, index_size} - set(_ILOC_FIELD_SIZES):
        raise ValueError("item location field sizes outside the standard's")
    count = box.uint(2 if version < 2 else 4)
    item_header = (2 if version < 2 else 4) + (2 if version in (1, 2) else 0) + 2 + base_size + 2
    extent_size = index_size + offset_size + length_size
    if count > MAX_HEIC_ITEMS or count * item_header > box.remaining():
        raise ValueError("more item locations than the box holds")
    extents, extents_read = [], 0
    for _ in range(count):
        item_id = box.uint(2 if version < 2 else 4)
        method = box.uint(2) & 0x0F if version in (1, 2) else 0
        box.uint(2)  # data reference index
        base = box.uint(base_size)
        extent_count = box.uint(2)
        extents_read += extent_count
        if extents_read > MAX_HEIC_EXTENTS or extent_count * extent_size > box.remaining():
            raise ValueError("more item extents than the box holds")
        for _ in range(extent_count):
            box.uint(index_size)
            offset, length = box.uint(offset_size), box.uint(length_size)
            if item_id in wanted:
                absolute = _extent_origin(method, idat) + base + offset
                extents.append((absolute, length or len(data) - absolute))
    return extents


def _extent_origin(method: int, idat) -> int:
    if method == 1 and idat is not None:
        return idat[0]
    if method == 0:
        return 0
    raise ValueError("metadata stored in a way that cannot be blanked")


# --- Encrypted storage --------------------------------------------------------------------


def _file_key() -> bytes:
    """The master file key. Set HAVEN_FILE_KEY in production and keep it: files stored under
    one key cannot be read under another (SECRET_KEY is only the fallback). Files written since
    migration 0012 are encrypted under a data key of their own, wrapped under this one."""
    secret = current_app.config["FILE_ENCRYPTION_KEY"] or current_app.config["SECRET_KEY"]
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"haven-incident-files", info=b"aes-gcm v1"
    ).derive(secret.encode())


class FileKeyDestroyed(ValueError):
    """The file's data key was destroyed (its records were disposed of): it cannot be read."""


def _wrap(data_key: bytes, stored_name: str) -> bytes:
    nonce = secrets.token_bytes(12)
    return nonce + AESGCM(_file_key()).encrypt(nonce, data_key, b"file-key:" + stored_name.encode())


def _unwrap(stored_name: str) -> bytes:
    from server.extensions import db
    from server.incidents.models import FileKey

    found = db.session.get(FileKey, stored_name)
    if found is None:
        raise FileKeyDestroyed(f"the key of {stored_name} has been destroyed")
    wrapped = found.wrapped_key
    context = b"file-key:" + stored_name.encode()
    return AESGCM(_file_key()).decrypt(wrapped[:12], wrapped[12:], context)


def _upload_dir() -> Path:
    directory = Path(current_app.config["UPLOAD_DIR"])
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    return directory


def store(data: bytes) -> str:
    """Encrypt `data` under a new data key of its own and write it; the wrapped key is added to
    the caller's transaction. Returns the server-generated name it is stored under."""
    from server.extensions import db
    from server.incidents.models import FileKey

    stored_name = secrets.token_hex(16)
    data_key = AESGCM.generate_key(bit_length=256)
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(data_key).encrypt(nonce, data, stored_name.encode())
    path = _upload_dir() / stored_name
    with open(path, "xb") as handle:
        handle.write(_KEYED_MAGIC + nonce + sealed)
    path.chmod(0o600)
    db.session.add(FileKey(stored_name=stored_name, wrapped_key=_wrap(data_key, stored_name)))
    return stored_name


def load(stored_name: str) -> bytes:
    return decrypt(stored_name, (_upload_dir() / stored_name).read_bytes())


def decrypt(stored_name: str, raw: bytes) -> bytes:
    """The content of a stored file's bytes (from the upload folder or any copy of it)."""
    if raw.startswith(_KEYED_MAGIC):
        key = _unwrap(stored_name)
    elif raw.startswith(_STORED_MAGIC):
        key = _file_key()  # written before files had keys of their own
    else:
        raise ValueError("not a stored Haven file")
    nonce, sealed = raw[4:16], raw[16:]
    return AESGCM(key).decrypt(nonce, sealed, stored_name.encode())


def readable(stored_name: str) -> bool:
    """Whether the file is still there to read: not disposed of (file and key destroyed)."""
    from server.extensions import db
    from server.incidents.models import FileKey

    path = _upload_dir() / stored_name
    if not path.is_file():
        return False
    with open(path, "rb") as handle:
        magic = handle.read(4)
    return magic != _KEYED_MAGIC or db.session.get(FileKey, stored_name) is not None


def destroy(stored_names: list[str]) -> None:
    """Destroy the files' keys (in the caller's transaction); remove the files from disk with
    `discard` once that transaction has committed. A file written before files had keys of
    their own is encrypted under the master key, which cannot be destroyed: its file is removed,
    but a copy older than `flask files rekey` stays readable under the master key."""
    from sqlalchemy import delete

    from server.extensions import db
    from server.incidents.models import FileKey

    if stored_names:
        db.session.execute(delete(FileKey).where(FileKey.stored_name.in_(stored_names)))


def rekey_legacy(stored_names: list[str]) -> int:
    """Re-encrypt files written under the master key with a data key of their own, committing
    each key as it goes (`flask files rekey`); returns how many were rewritten."""
    from server.extensions import db
    from server.incidents.models import FileKey

    rewritten = 0
    for stored_name in stored_names:
        path = _upload_dir() / stored_name
        if not path.is_file() or not path.read_bytes().startswith(_STORED_MAGIC):
            continue
        data = load(stored_name)
        data_key = AESGCM.generate_key(bit_length=256)
        nonce = secrets.token_bytes(12)
        sealed = AESGCM(data_key).encrypt(nonce, data, stored_name.encode())
        partial = path.with_name(stored_name + ".rekey")
        with open(partial, "wb") as handle:
            handle.write(_KEYED_MAGIC + nonce + sealed)
        partial.chmod(0o600)
        db.session.add(FileKey(stored_name=stored_name, wrapped_key=_wrap(data_key, stored_name)))
        # The key is committed before the file is replaced: a stop in between leaves the old
        # file, still readable under the master key, never a file without its key.
        db.session.commit()
        os.replace(partial, path)
        rewritten += 1
    return rewritten


def discard(stored_names: list[str]) -> None:
    """Remove files written for a submission that was then not saved."""
    for stored_name in stored_names:
        (_upload_dir() / stored_name).unlink(missing_ok=True)

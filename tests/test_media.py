import base64
import hashlib
import io
import os
import random
import re
import struct
import subprocess
import sys
import textwrap
import wave
import zipfile
import zlib
from pathlib import Path

import pytest

import wacloud
from wacloud import _core, media
from wacloud.media import MEDIA_RULES, MediaInfo, MediaKind

KIB = 1024
MIB = 1024 * 1024
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"


# ---- real-format samples ------------------------------------------------------


def png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def png(size: int | None = None) -> bytes:
    """A valid 2x2 RGB PNG; `size` pads it with a tEXt chunk to exactly that many bytes."""
    rows = b"".join(b"\x00" + b"\xff\x00\x00\x00\xff\x00" for _ in range(2))
    head = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
    tail = png_chunk(b"IDAT", zlib.compress(rows)) + png_chunk(b"IEND", b"")
    if size is None:
        return head + tail
    padding = size - len(head) - len(tail) - 12 - len(b"Comment\x00")
    return head + png_chunk(b"tEXt", b"Comment\x00" + b"x" * padding) + tail


def jpeg() -> bytes:
    app0 = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    return b"\xff\xd8\xff\xe0" + struct.pack(">H", len(app0) + 2) + app0 + b"\xff\xd9"


def riff_chunk(fourcc: bytes, payload: bytes) -> bytes:
    return fourcc + struct.pack("<I", len(payload)) + payload + (b"\x00" if len(payload) % 2 else b"")


def webp(*chunks: bytes, size: int | None = None) -> bytes:
    body = b"WEBP" + b"".join(chunks)
    if size is not None:  # pad with an unknown chunk (unpadded, so any size is possible)
        padding = size - len(body) - 8 - 8
        body += b"PADD" + struct.pack("<I", padding) + b"\x00" * padding
    return b"RIFF" + struct.pack("<I", len(body)) + body


VP8L_1X1 = riff_chunk(b"VP8L", bytes.fromhex("2f00000010071011118888fe0700"))


def static_webp(size: int | None = None) -> bytes:
    return webp(VP8L_1X1, size=size)


def animated_webp(size: int | None = None, *, flag: bool = True) -> bytes:
    vp8x = bytes([0x02 if flag else 0x00]) + b"\x00" * 3 + b"\x00\x00\x00" * 2  # 1x1 canvas
    frame = riff_chunk(b"ANMF", b"\x00" * 16 + VP8L_1X1)
    return webp(riff_chunk(b"VP8X", vp8x), riff_chunk(b"ANIM", b"\x00" * 6), frame, size=size)


def ogg_crc(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc


def ogg(packet: bytes, size: int | None = None) -> bytes:
    """One Ogg page carrying `packet`, with a valid CRC; padded with zero bytes after it."""
    header = b"OggS\x00\x02" + b"\x00" * 8 + struct.pack("<III", 1, 0, 0) + bytes([1, len(packet)])
    crc = ogg_crc(header + packet)
    page = header[:22] + struct.pack("<I", crc) + header[26:] + packet
    return page if size is None else page + b"\x00" * (size - len(page))


OPUS_HEAD = b"OpusHead\x01\x01\x38\x01\x80\xbb\x00\x00\x00\x00\x00"
VORBIS_HEAD = b"\x01vorbis\x00\x00\x00\x00\x01\x44\xac\x00\x00" + b"\x00" * 15


def mp4(brand: bytes, size: int | None = None) -> bytes:
    ftyp = struct.pack(">I", 24) + b"ftyp" + brand + b"\x00\x00\x02\x00" + brand + b"isom"
    mdat_payload = b"\x00" * (0 if size is None else size - len(ftyp) - 8)
    return ftyp + struct.pack(">I", 8 + len(mdat_payload)) + b"mdat" + mdat_payload


def office_zip(*entries: str, big_first_entry: bool = False) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        if big_first_entry:  # stored, so the Office parts start far beyond the sniffed head
            archive.writestr("docProps/thumbnail.jpeg", random.Random(1).randbytes(200 * KIB))
        archive.writestr("[Content_Types].xml", "<Types/>", zipfile.ZIP_DEFLATED)
        for name in entries:
            archive.writestr(name, "<xml/>", zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def wav() -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x00" * 100)
    return buffer.getvalue()


OLE2 = bytes.fromhex("d0cf11e0a1b11ae1") + b"\x00" * 16 + b"\x3e\x00\x03\x00\xfe\xff" + b"\x00" * 482
MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" + b"\x00" * 413
ADTS = b"\xff\xf1\x50\x80\x02\x1f\xfc" + b"\x00" * 9
AMR = b"#!AMR\n" + b"\x3c" + b"\x00" * 31
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
TEXT = "Grüße aus Köln — 1 € ✓\n".encode()

SNIFFED = [
    (png(), "image/png"),
    (jpeg(), "image/jpeg"),
    (static_webp(), "image/webp"),
    (animated_webp(), "image/webp"),
    (PDF, "application/pdf"),
    (ogg(OPUS_HEAD), "audio/ogg"),
    (MP3, "audio/mpeg"),
    (ADTS, "audio/aac"),
    (AMR, "audio/amr"),
    (mp4(b"isom"), "video/mp4"),
    (mp4(b"3gp5"), "video/3gpp"),
    (mp4(b"M4A "), "audio/mp4"),
    (office_zip("word/document.xml"), DOCX),
    (office_zip("xl/workbook.xml"), XLSX),
    (office_zip("ppt/presentation.xml"), PPTX),
    (office_zip("word/document.xml", big_first_entry=True), DOCX),
    (office_zip("notes/readme.xml"), "application/zip"),
    (OLE2, "application/x-ole-storage"),
    (TEXT, "text/plain"),
    (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "image/gif"),
    (wav(), "audio/wav"),
]


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# ---- hashing --------------------------------------------------------------------

HASH_SIZES = [0, 1, 55, 56, 63, 64, 65, MIB - 1, MIB, MIB + 1, 3 * MIB + 7, 9 * MIB]


@pytest.mark.parametrize("size", HASH_SIZES)
def test_hashes_equal_hashlib_for_bytes_and_files(tmp_path, size):
    data = random.Random(size).randbytes(size)
    digest = hashlib.sha256(data)
    expected_base64 = base64.b64encode(digest.digest()).decode()
    for view in (data, bytearray(data), memoryview(data)):
        assert media.sha256_bytes(view) == digest.hexdigest()
        assert media.sha256_bytes_base64(view) == expected_base64
    path = write(tmp_path, "blob.bin", data)
    for spelling in (path, str(path), os.fsencode(path)):
        assert media.sha256_file(spelling) == digest.hexdigest()
        assert media.sha256_file_base64(spelling) == expected_base64


def test_hash_of_a_memoryview_slice_hashes_only_the_slice():
    data = bytes(range(256)) * 10
    assert media.sha256_bytes(memoryview(data)[100:900]) == hashlib.sha256(data[100:900]).hexdigest()


def test_hash_of_a_non_contiguous_buffer_is_a_typed_error():
    with pytest.raises(BufferError):
        media.sha256_bytes(memoryview(b"abcdef")[::2])


@pytest.mark.parametrize(
    ("function", "argument"),
    [
        (media.sha256_bytes, "text"),
        (media.sha256_bytes, 42),
        (media.sha256_bytes, None),
        (media.sha256_bytes_base64, "text"),
        (media.sha256_file, 42),
        (media.sha256_file, None),
        (media.sha256_file_base64, 3.5),
        (media.sniff_mime, 42),
        (media.check, 42),
        (media.kind_for_mime, None),
        (media.kind_for_mime, b"image/png"),
    ],
)
def test_wrong_argument_types_raise_type_error(function, argument):
    with pytest.raises(TypeError):
        function(argument)


def test_declared_mime_must_be_a_string():
    with pytest.raises(TypeError, match="declared_mime"):
        media.check(png(), declared_mime=b"image/png")


def test_unreadable_files_raise_os_error(tmp_path):
    missing = tmp_path / "missing.jpg"
    for call in (media.sha256_file, media.sha256_file_base64, media.sniff_mime, media.check):
        with pytest.raises(FileNotFoundError) as caught:
            call(missing)
        assert caught.value.filename == str(missing)
    with pytest.raises(IsADirectoryError):
        media.sha256_file(tmp_path)
    with pytest.raises(ValueError, match="null byte"):
        media.sha256_file(str(tmp_path) + "/a\x00b")


# The hasher blocks in the core reading a FIFO that only this interpreter's main
# thread fills: that thread can only run if the core released the GIL, so a
# regression hangs the child, which the timeout turns into a failure.
GIL_CHILD = textwrap.dedent(
    """
    import hashlib, importlib.util, os, sys, threading
    spec = importlib.util.spec_from_file_location("wacloud._core", sys.argv[1])
    core = importlib.util.module_from_spec(spec)
    sys.modules["wacloud._core"] = core
    spec.loader.exec_module(core)
    from wacloud import media

    fifo, size, function = sys.argv[2], int(sys.argv[3]), sys.argv[4]
    result = {}
    def work():
        if function == "sha256_file":
            result["digest"] = media.sha256_file(fifo)
        else:
            result["digest"] = media.check(fifo, "text/plain").sha256
    worker = threading.Thread(target=work)
    worker.start()
    data = b"0123456789abcdef\\n" * (size // 17)
    with open(fifo, "wb") as out:
        for at in range(0, len(data), 65536):
            out.write(data[at : at + 65536])
    worker.join()
    print("OK" if result["digest"] == hashlib.sha256(data).hexdigest() else "MISMATCH")
    """
)


@pytest.mark.parametrize("function", ["sha256_file", "check"])
def test_file_reading_releases_the_gil(tmp_path, function):
    fifo = tmp_path / "stream"
    os.mkfifo(fifo)
    python_dir = str(Path(wacloud.__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": python_dir + os.pathsep + os.environ.get("PYTHONPATH", "")}
    try:
        child = subprocess.run(
            [sys.executable, "-c", GIL_CHILD, _core.__file__, str(fifo), str(12 * MIB), function],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{function} held the GIL while reading: the writer thread never ran")
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == "OK"


# ---- sniffing -------------------------------------------------------------------


@pytest.mark.parametrize(("data", "mime"), SNIFFED, ids=[mime for _, mime in SNIFFED])
def test_sniff_recognises_real_formats_from_bytes_and_files(tmp_path, data, mime):
    assert media.sniff_mime(data) == mime
    assert media.sniff_mime(bytearray(data)) == mime
    assert media.sniff_mime(write(tmp_path, "sample", data)) == mime
    assert media.sniff_mime(str(tmp_path / "sample")) == mime


@pytest.mark.parametrize(
    "data",
    [b"", b"\x00\x01\x02\x03", random.Random(5).randbytes(4096), "caf\xe9".encode("latin-1") + b"\x00"],
)
def test_sniff_returns_none_when_unknown(data):
    assert media.sniff_mime(data) is None


def test_office_parts_beyond_the_head_are_found_in_files_too(tmp_path):
    data = office_zip("xl/workbook.xml", big_first_entry=True)
    assert len(data) > 200 * KIB
    assert media.sniff_mime(write(tmp_path, "book.xlsx", data)) == XLSX
    assert media.check(tmp_path / "book.xlsx").mime == XLSX


def test_truncated_samples_never_crash():
    for data, _ in SNIFFED:
        for size in range(min(len(data), 80)):
            result = media.sniff_mime(data[:size])
            assert result is None or isinstance(result, str)


# ---- rules ----------------------------------------------------------------------


def test_media_rules_table():
    assert MEDIA_RULES[MediaKind.IMAGE].mime_types == ("image/jpeg", "image/png")
    assert MEDIA_RULES[MediaKind.IMAGE].max_size == 5 * MIB
    assert set(MEDIA_RULES[MediaKind.AUDIO].mime_types) == {
        "audio/aac",
        "audio/amr",
        "audio/mpeg",
        "audio/mp4",
        "audio/ogg",
    }
    assert MEDIA_RULES[MediaKind.AUDIO].max_size == 16 * MIB
    assert MEDIA_RULES[MediaKind.VIDEO].mime_types == ("video/3gpp", "video/mp4")
    assert MEDIA_RULES[MediaKind.VIDEO].max_size == 16 * MIB
    assert len(MEDIA_RULES[MediaKind.DOCUMENT].mime_types) == 8
    assert MEDIA_RULES[MediaKind.DOCUMENT].max_size == 100 * MIB
    sticker = MEDIA_RULES[MediaKind.STICKER]
    assert (sticker.mime_types, sticker.max_size, sticker.max_size_animated) == (
        ("image/webp",),
        100 * KIB,
        500 * KIB,
    )
    with pytest.raises(TypeError):
        MEDIA_RULES[MediaKind.IMAGE] = sticker  # type: ignore[index]


@pytest.mark.parametrize(
    ("mime", "kind"),
    [
        ("image/png", MediaKind.IMAGE),
        ("IMAGE/JPEG", MediaKind.IMAGE),
        ("audio/ogg", MediaKind.AUDIO),
        ("video/3gp", MediaKind.VIDEO),
        ("video/3gpp", MediaKind.VIDEO),
        ("text/plain; charset=utf-8", MediaKind.DOCUMENT),
        (DOCX, MediaKind.DOCUMENT),
        ("image/webp", MediaKind.STICKER),
        ("image/gif", None),
        ("application/octet-stream", None),
        ("", None),
    ],
)
def test_kind_for_mime(mime, kind):
    assert media.kind_for_mime(mime) is kind


# ---- check ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "declared", "mime", "kind", "animated"),
    [
        (png(), "image/png", "image/png", MediaKind.IMAGE, False),
        (jpeg(), None, "image/jpeg", MediaKind.IMAGE, False),
        (static_webp(), "image/webp", "image/webp", MediaKind.STICKER, False),
        (animated_webp(), None, "image/webp", MediaKind.STICKER, True),
        (animated_webp(flag=False), None, "image/webp", MediaKind.STICKER, True),
        (ogg(OPUS_HEAD), "audio/ogg", "audio/ogg", MediaKind.AUDIO, False),
        (MP3, "audio/mpeg", "audio/mpeg", MediaKind.AUDIO, False),
        (ADTS, "audio/aac", "audio/aac", MediaKind.AUDIO, False),
        (AMR, "audio/amr", "audio/amr", MediaKind.AUDIO, False),
        (mp4(b"M4A "), "audio/mp4", "audio/mp4", MediaKind.AUDIO, False),
        (mp4(b"isom"), "audio/mp4", "audio/mp4", MediaKind.AUDIO, False),  # audio-only MP4, generic brand
        (mp4(b"mp42"), "video/mp4", "video/mp4", MediaKind.VIDEO, False),
        (mp4(b"3gp5"), "video/3gp", "video/3gpp", MediaKind.VIDEO, False),
        (PDF, "Application/PDF", "application/pdf", MediaKind.DOCUMENT, False),
        (TEXT, "text/plain; charset=utf-8", "text/plain", MediaKind.DOCUMENT, False),
        (TEXT, None, "text/plain", MediaKind.DOCUMENT, False),
        (office_zip("word/document.xml"), None, DOCX, MediaKind.DOCUMENT, False),
        (office_zip("word/document.xml"), DOCX, DOCX, MediaKind.DOCUMENT, False),
        (office_zip("custom/part.xml"), XLSX, XLSX, MediaKind.DOCUMENT, False),
        (OLE2, "application/msword", "application/msword", MediaKind.DOCUMENT, False),
        (OLE2, "application/vnd.ms-excel", "application/vnd.ms-excel", MediaKind.DOCUMENT, False),
        (OLE2, DOCX, DOCX, MediaKind.DOCUMENT, False),  # encrypted OOXML lives in OLE2
    ],
)
def test_check_accepts_good_media_from_bytes_and_files(tmp_path, data, declared, mime, kind, animated):
    expected = MediaInfo(
        mime=mime, kind=kind, size=len(data), sha256=hashlib.sha256(data).hexdigest(), animated=animated
    )
    assert media.check(data, declared) == expected
    assert media.check(write(tmp_path, "upload", data), declared) == expected
    assert expected.sha256_base64 == base64.b64encode(hashlib.sha256(data).digest()).decode()


def test_media_info_is_frozen():
    info = media.check(png())
    with pytest.raises(AttributeError):
        info.size = 1  # type: ignore[misc]
    assert info.kind == "image" and str(info.kind) == "image"


@pytest.mark.parametrize(
    ("data", "declared", "reason"),
    [
        (b"", None, "media is empty (0 bytes)"),
        (b"", "image/png", "media is empty (0 bytes)"),
        (b"GIF89a\x01\x00\x01\x00;", "image/gif", "MIME type image/gif is not accepted by WhatsApp"),
        (b"GIF89a\x01\x00\x01\x00;", None, "content is image/gif, which is not accepted by WhatsApp"),
        (wav(), None, "content is audio/wav, which is not accepted by WhatsApp"),
        (mp4(b"qt  "), None, "content is video/quicktime, which is not accepted"),
        (office_zip("notes/a.xml"), None, "application/zip, which is not accepted"),
        (OLE2, None, "declare the Office MIME type"),
        (png(), "application/octet-stream", "application/octet-stream is not accepted by WhatsApp"),
        (jpeg(), "image/png", "declared image/png, content is image/jpeg"),
        (png(), "text/plain", "declared text/plain, content is image/png"),
        (PDF, DOCX, f"declared {DOCX}, content is application/pdf"),
        (office_zip("word/document.xml"), XLSX, f"declared {XLSX}, content is {DOCX}"),
        (mp4(b"M4A "), "video/mp4", "declared video/mp4, content is audio/mp4"),
        (b"\x00\x01binary\xff" * 10, "application/pdf", "content is not a recognised format"),
        (b"\x00\x01binary\xff" * 10, None, "content type not recognised and no MIME type declared"),
        (b"caf\xe9 au lait", "text/plain", "declared text/plain, content is not valid UTF-8 text"),
        (ogg(VORBIS_HEAD), "audio/ogg", "only with the Opus codec"),
    ],
)
def test_check_rejects_with_the_reason(tmp_path, data, declared, reason):
    with pytest.raises(wacloud.MediaRejected, match=re.escape(reason)):
        media.check(data, declared)
    with pytest.raises(wacloud.MediaRejected, match=re.escape(reason)):
        media.check(write(tmp_path, "upload", data), declared)


def test_rejections_are_value_errors():
    with pytest.raises(ValueError):
        media.check(b"")


def test_text_must_be_utf8_beyond_the_sniffed_head(tmp_path):
    data = b"a" * (300 * KIB) + b"\xff"
    assert media.sniff_mime(data) == "text/plain"  # the head alone looks like text
    for source in (data, write(tmp_path, "notes.txt", data)):
        with pytest.raises(wacloud.MediaRejected, match="not valid UTF-8 text throughout"):
            media.check(source, "text/plain")


@pytest.mark.parametrize(
    ("make", "declared", "limit", "label"),
    [
        (png, "image/png", 5 * MIB, "image"),
        (lambda n: mp4(b"mp42", n), "video/mp4", 16 * MIB, "video"),
        (lambda n: ogg(OPUS_HEAD, n), "audio/ogg", 16 * MIB, "audio"),
        (static_webp, "image/webp", 100 * KIB, "static sticker"),
        (animated_webp, "image/webp", 500 * KIB, "animated sticker"),
    ],
    ids=["image", "video", "audio", "static-sticker", "animated-sticker"],
)
def test_size_limit_at_the_limit_and_one_byte_over(tmp_path, make, declared, limit, label):
    at_limit = make(limit)
    assert len(at_limit) == limit
    assert media.check(at_limit, declared).size == limit
    over = make(limit + 1)
    reason = f"{label} is too large: {limit + 1} bytes, the limit is {limit} bytes"
    with pytest.raises(wacloud.MediaRejected, match=re.escape(reason)):
        media.check(over, declared)
    with pytest.raises(wacloud.MediaRejected, match=re.escape(reason)):
        media.check(write(tmp_path, "big", over), declared)


def test_document_limit_on_a_sparse_file(tmp_path):
    path = write(tmp_path, "big.pdf", PDF)
    with open(path, "r+b") as out:
        out.truncate(100 * MIB)
    assert media.check(path, "application/pdf").size == 100 * MIB
    with open(path, "r+b") as out:
        out.truncate(100 * MIB + 1)
    with pytest.raises(wacloud.MediaRejected, match=r"document is too large: 104857601 bytes.*\(100 MiB\)"):
        media.check(path, "application/pdf")


def test_public_names_are_exported():
    assert wacloud.media is media
    assert wacloud.MediaInfo is MediaInfo
    assert wacloud.MediaKind is MediaKind
    assert {"check", "sniff_mime", "sha256_file", "MEDIA_RULES", "kind_for_mime"} <= set(media.__all__)

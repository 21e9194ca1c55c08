#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "wacloud/errors.hpp"
#include "wacloud/media.hpp"

using namespace wacloud;
using namespace std::string_literals;

namespace {

constexpr std::uint64_t kKiB = 1024, kMiB = 1024 * 1024;

std::string random_bytes(std::size_t size, unsigned seed = 7) {
  std::mt19937 engine(seed);
  std::string bytes(size, '\0');
  for (char& c : bytes) c = static_cast<char>(engine() & 0xFF);
  return bytes;
}

std::string le32(std::uint32_t value) {
  std::string out(4, '\0');
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((value >> (8 * i)) & 0xFF);
  return out;
}

std::string le16(std::uint16_t value) { return le32(value).substr(0, 2); }

// Magic-byte samples padded to `size` bytes with filler that keeps their type.
std::string jpeg(std::size_t size = 64) {
  std::string s = "\xFF\xD8\xFF\xE0"s + "\x00\x10JFIF\x00"s;
  s.resize(size, '\x00');
  return s;
}
std::string png(std::size_t size = 64) {
  std::string s = "\x89PNG\r\n\x1A\n\x00\x00\x00\x0DIHDR"s;
  s.resize(size, '\x00');
  return s;
}
std::string riff_webp(const std::string& chunks, std::size_t size = 0) {
  std::string body = "WEBP" + chunks;
  std::string s = "RIFF" + le32(static_cast<std::uint32_t>(body.size())) + body;
  if (size) s.resize(size, '\x00');
  return s;
}
std::string chunk(const std::string& fourcc, const std::string& payload) {
  std::string s = fourcc + le32(static_cast<std::uint32_t>(payload.size())) + payload;
  if (payload.size() % 2) s.push_back('\x00');
  return s;
}
std::string static_webp(std::size_t size = 0) {
  return riff_webp(chunk("VP8 ", std::string(11, '\x01')), size);
}
std::string vp8x_animated_webp(std::size_t size = 0) {
  return riff_webp(chunk("VP8X", "\x02"s + std::string(9, '\x00')), size);
}
std::string anim_chunk_webp(std::size_t size = 0) {
  // VP8X without the flag, followed by an ANIM chunk after an odd-sized chunk.
  return riff_webp(chunk("VP8X", std::string(10, '\x00')) + chunk("ICCP", "abc") +
                       chunk("ANIM", std::string(6, '\x00')),
                   size);
}
std::string ogg(const std::string& codec_header, std::size_t size = 128) {
  std::string s = "OggS\x00\x02"s + std::string(20, '\x00') + "\x01"s + "\x13"s + codec_header;
  s.resize(size, '\x00');
  return s;
}
std::string ftyp(const std::string& brand, std::size_t size = 64) {
  std::string s = "\x00\x00\x00\x18"s + "ftyp" + brand + "\x00\x00\x00\x00"s + "isommp42";
  s.resize(size, '\x00');
  return s;
}
std::string zip_entry(const std::string& name) {
  return "PK\x03\x04"s + std::string(22, '\x00') + le16(static_cast<std::uint16_t>(name.size())) +
         le16(0) + name;
}
std::string zip_with(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& name : names) s += zip_entry(name) + "data";
  return s + "PK\x05\x06"s + std::string(18, '\x00');
}
std::string central_entry(const std::string& name) {
  return "PK\x01\x02"s + std::string(24, '\x00') + le16(static_cast<std::uint16_t>(name.size())) +
         std::string(16, '\x00') + name;
}

class TempFile {
 public:
  explicit TempFile(const std::string& content) {
    static int counter = 0;
    path_ = (std::filesystem::temp_directory_path() /
             ("wacloud_media_" + std::to_string(::getpid()) + "_" + std::to_string(counter++)))
                .string();
    std::ofstream(path_, std::ios::binary) << content;
  }
  ~TempFile() { std::filesystem::remove(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string rejection(const std::string& data, const std::string& declared = "") {
  try {
    check_media(data, declared);
  } catch (const MediaRejected& e) {
    return e.what();
  }
  return "(accepted)";
}

}  // namespace

// ---- SHA-256 -------------------------------------------------------------------

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(to_hex(sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(to_hex(sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(to_hex(sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(to_hex(sha256(std::string(1000000, 'a'))),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, Base64) {
  EXPECT_EQ(to_base64(sha256("")), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
  EXPECT_EQ(to_base64(sha256("abc")), "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
}

TEST(Sha256, StreamingInAnyPiecesEqualsOneShot) {
  const std::string data = random_bytes(3 * 1024 * 1024 + 17);
  const Sha256Digest expected = sha256(data);
  for (std::size_t piece : {1u, 63u, 64u, 65u, 4096u, 1000003u}) {
    Sha256 hasher;
    for (std::size_t at = 0; at < data.size(); at += piece) {
      hasher.update(std::string_view(data).substr(at, piece));
    }
    EXPECT_EQ(hasher.finish(), expected) << "piece size " << piece;
  }
}

TEST(Sha256, FinishResetsForReuse) {
  Sha256 hasher;
  hasher.update("ab");
  hasher.update("c");
  EXPECT_EQ(hasher.finish(), sha256("abc"));
  EXPECT_EQ(hasher.finish(), sha256(""));
  hasher.update("abc");
  EXPECT_EQ(hasher.finish(), sha256("abc"));
}

TEST(Sha256, FileMatchesBytesAcrossChunkBoundaries) {
  for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{kMiB - 1}, std::size_t{kMiB},
                           std::size_t{kMiB + 1}, std::size_t{3 * kMiB + 5}}) {
    const std::string data = random_bytes(size, static_cast<unsigned>(size));
    TempFile file(data);
    EXPECT_EQ(sha256_file(file.path()), sha256(data)) << "size " << size;
  }
}

TEST(Sha256, UnreadableFilesThrowFileErrorWithErrno) {
  try {
    sha256_file("/nonexistent/wacloud/media.bin");
    FAIL() << "expected FileError";
  } catch (const FileError& e) {
    EXPECT_EQ(e.error_number(), ENOENT);
    EXPECT_EQ(e.path(), "/nonexistent/wacloud/media.bin");
  }
  try {
    sha256_file(std::filesystem::temp_directory_path().string());
    FAIL() << "expected FileError";
  } catch (const FileError& e) {
    EXPECT_EQ(e.error_number(), EISDIR);
  }
}

// ---- sniffing ------------------------------------------------------------------

TEST(Sniff, MagicBytes) {
  EXPECT_EQ(sniff_mime(jpeg()), "image/jpeg");
  EXPECT_EQ(sniff_mime(png()), "image/png");
  EXPECT_EQ(sniff_mime("GIF89a\x01\x00"), "image/gif");
  EXPECT_EQ(sniff_mime(static_webp()), "image/webp");
  EXPECT_EQ(sniff_mime("%PDF-1.7\n%\xE2\xE3\xCF\xD3\n"), "application/pdf");
  EXPECT_EQ(sniff_mime(ogg("OpusHead")), "audio/ogg");
  EXPECT_EQ(sniff_mime("ID3\x04\x00\x00\x00\x00\x00\x00"s + "\xFF\xFB\x90\x00"s), "audio/mpeg");
  EXPECT_EQ(sniff_mime("\xFF\xFB\x90\x64\x00\x00"s), "audio/mpeg");     // MPEG-1 layer III frame
  EXPECT_EQ(sniff_mime("\xFF\xF1\x50\x80\x00\x1F\xFC"s), "audio/aac");  // ADTS
  EXPECT_EQ(sniff_mime("ID3\x04\x00\x00\x00\x00\x00\x00"s + "\xFF\xF1\x50\x80"s), "audio/aac");
  EXPECT_EQ(sniff_mime("#!AMR\n\x3C"), "audio/amr");
  EXPECT_EQ(sniff_mime("#!AMR-WB\n\x3C"), "audio/amr-wb");
  EXPECT_EQ(sniff_mime("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"s + std::string(32, '\x00')),
            "application/x-ole-storage");
}

TEST(Sniff, IsoMediaByBrand) {
  EXPECT_EQ(sniff_mime(ftyp("3gp4")), "video/3gpp");
  EXPECT_EQ(sniff_mime(ftyp("3gp6")), "video/3gpp");
  EXPECT_EQ(sniff_mime(ftyp("M4A ")), "audio/mp4");
  EXPECT_EQ(sniff_mime(ftyp("isom")), "video/mp4");
  EXPECT_EQ(sniff_mime(ftyp("mp42")), "video/mp4");
  EXPECT_EQ(sniff_mime(ftyp("qt  ")), "video/quicktime");
  EXPECT_EQ(sniff_mime(ftyp("heic")), "image/heic");
}

TEST(Sniff, ZipIsOfficeOnlyWithOfficeParts) {
  EXPECT_EQ(sniff_mime(zip_with({"[Content_Types].xml", "_rels/.rels", "word/document.xml"})),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document");
  EXPECT_EQ(sniff_mime(zip_with({"[Content_Types].xml", "xl/workbook.xml"})),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
  EXPECT_EQ(sniff_mime(zip_with({"ppt/presentation.xml"})),
            "application/vnd.openxmlformats-officedocument.presentationml.presentation");
  EXPECT_EQ(sniff_mime(zip_with({"readme.txt", "src/word/notes.txt"})), "application/zip");
}

TEST(Sniff, ZipOfficePartsFoundInTheCentralDirectory) {
  // Entries beyond the sniffed head are named again in the central directory.
  std::string head = zip_with({"[Content_Types].xml"});
  EXPECT_EQ(sniff_mime(head, central_entry("xl/workbook.xml")),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
  std::string whole = head + random_bytes(200 * 1024) + central_entry("ppt/slides/slide1.xml");
  EXPECT_EQ(check_media(whole, "").mime,
            "application/vnd.openxmlformats-officedocument.presentationml.presentation");
}

TEST(Sniff, TextIsUtf8WithoutBinaryControls) {
  EXPECT_EQ(sniff_mime("hello, world\r\n\ttabs"), "text/plain");
  EXPECT_EQ(sniff_mime("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"), "text/plain");
  EXPECT_EQ(sniff_mime("caf\xC3"), "text/plain");  // a cut-off head may end mid-character
  EXPECT_EQ(sniff_mime("bad \xC3\x28"), "");
  EXPECT_EQ(sniff_mime("overlong \xC0\xAF"), "");
  EXPECT_EQ(sniff_mime("surrogate \xED\xA0\x80"), "");
  EXPECT_EQ(sniff_mime("nul \x00 inside"s), "");
  EXPECT_EQ(sniff_mime(""), "");
  EXPECT_EQ(sniff_mime("\x01\x02\x03 binary"), "");
}

TEST(Sniff, WebpAnimation) {
  EXPECT_FALSE(webp_is_animated(static_webp()));
  EXPECT_FALSE(webp_is_animated(riff_webp(chunk("VP8X", std::string(10, '\x00')))));
  EXPECT_TRUE(webp_is_animated(vp8x_animated_webp()));
  EXPECT_TRUE(webp_is_animated(anim_chunk_webp()));
  EXPECT_FALSE(webp_is_animated(png()));
  // A chunk size pointing far past the end must not be followed.
  EXPECT_FALSE(webp_is_animated(riff_webp("VP8 " + le32(0xFFFFFFF0u) + "ANIM")));
}

TEST(Sniff, FileUsesHeadAndTail) {
  std::string docx = zip_with({"[Content_Types].xml"}) + random_bytes(300 * 1024) +
                     central_entry("word/document.xml");
  TempFile file(docx);
  EXPECT_EQ(sniff_mime_file(file.path()),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document");
  TempFile pdf("%PDF-1.4\n");
  EXPECT_EQ(sniff_mime_file(pdf.path()), "application/pdf");
  EXPECT_THROW(sniff_mime_file("/nonexistent/x.pdf"), FileError);
}

TEST(Sniff, TruncatedAndHostileInputNeverCrashes) {
  const std::string samples[] = {jpeg(),
                                 png(),
                                 static_webp(),
                                 anim_chunk_webp(),
                                 ogg("OpusHead"),
                                 ftyp("3gp4"),
                                 zip_with({"word/document.xml"}),
                                 "ID3\x04\x00\x10\x7F\x7F\x7F\x7F"s};
  for (const std::string& sample : samples) {
    for (std::size_t size = 0; size <= sample.size(); ++size) {
      std::string cut = sample.substr(0, size);
      EXPECT_NO_THROW(sniff_mime(cut, cut));
      EXPECT_NO_THROW(webp_is_animated(cut));
    }
  }
}

// ---- Meta's rules --------------------------------------------------------------

TEST(Rules, KindsAndNormalization) {
  EXPECT_EQ(kind_for_mime("image/jpeg"), MediaKind::kImage);
  EXPECT_EQ(kind_for_mime("IMAGE/PNG"), MediaKind::kImage);
  EXPECT_EQ(kind_for_mime("text/plain; charset=utf-8"), MediaKind::kDocument);
  EXPECT_EQ(kind_for_mime("video/3gp"), MediaKind::kVideo);
  EXPECT_EQ(kind_for_mime("image/webp"), MediaKind::kSticker);
  EXPECT_EQ(kind_for_mime("audio/ogg"), MediaKind::kAudio);
  EXPECT_EQ(kind_for_mime("image/gif"), std::nullopt);
  EXPECT_EQ(kind_for_mime(""), std::nullopt);
  EXPECT_EQ(normalize_mime(" Video/3GP ;codecs=x"), "video/3gpp");
}

TEST(Rules, LimitsAreBinaryUnits) {
  std::map<MediaKind, std::pair<std::uint64_t, std::uint64_t>> limits;
  for (const MediaRule& rule : media_rules())
    limits[rule.kind] = {rule.max_size, rule.max_size_animated};
  EXPECT_EQ(limits[MediaKind::kImage].first, 5 * kMiB);
  EXPECT_EQ(limits[MediaKind::kAudio].first, 16 * kMiB);
  EXPECT_EQ(limits[MediaKind::kVideo].first, 16 * kMiB);
  EXPECT_EQ(limits[MediaKind::kDocument].first, 100 * kMiB);
  EXPECT_EQ(limits[MediaKind::kSticker], std::make_pair(100 * kKiB, 500 * kKiB));
}

TEST(Check, AcceptsGoodMedia) {
  MediaInfo info = check_media(png(1000), "image/png");
  EXPECT_EQ(info.mime, "image/png");
  EXPECT_EQ(info.kind, MediaKind::kImage);
  EXPECT_EQ(info.size, 1000u);
  EXPECT_EQ(info.sha256, to_hex(sha256(png(1000))));
  EXPECT_FALSE(info.animated);

  EXPECT_EQ(check_media(jpeg()).mime, "image/jpeg");  // undeclared: the sniffed type
  EXPECT_EQ(check_media(ogg("OpusHead"), "audio/ogg").kind, MediaKind::kAudio);
  EXPECT_EQ(check_media(ftyp("3gp4"), "video/3gp").mime, "video/3gpp");
  EXPECT_EQ(check_media(ftyp("isom"), "audio/mp4").kind, MediaKind::kAudio);
  EXPECT_EQ(check_media("plain words\n", "text/plain; charset=utf-8").mime, "text/plain");
  MediaInfo sticker = check_media(anim_chunk_webp());
  EXPECT_EQ(sticker.kind, MediaKind::kSticker);
  EXPECT_TRUE(sticker.animated);
}

TEST(Check, OfficeTypesAcceptTheirContainers) {
  std::string ole = "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"s + std::string(512, '\x00');
  EXPECT_EQ(check_media(ole, "application/msword").kind, MediaKind::kDocument);
  EXPECT_EQ(check_media(ole, "application/vnd.ms-excel").kind, MediaKind::kDocument);
  std::string docx = zip_with({"word/document.xml"});
  EXPECT_EQ(check_media(docx).mime,
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document");
  std::string bare_zip = zip_with({"content.bin"});
  EXPECT_EQ(check_media(bare_zip, "application/vnd.ms-powerpoint").kind, MediaKind::kDocument);
  EXPECT_NE(rejection(docx, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
                .find("content does not match"),
            std::string::npos);
  EXPECT_NE(rejection(bare_zip).find("application/zip, which is not accepted"), std::string::npos);
  EXPECT_NE(rejection(ole).find("declare the Office MIME type"), std::string::npos);
}

TEST(Check, SizeLimitsAtTheLimitAndOneByteOver) {
  struct Case {
    std::string (*make)(std::size_t);
    std::string mime;
    std::uint64_t limit;
    std::string label;
  };
  const Case cases[] = {
      {jpeg, "image/jpeg", 5 * kMiB, "image is too large"},
      {[](std::size_t n) { return ftyp("mp42", n); }, "video/mp4", 16 * kMiB, "video is too large"},
      {[](std::size_t n) { return ogg("OpusHead", n); }, "audio/ogg", 16 * kMiB,
       "audio is too large"},
      {[](std::size_t n) { return "%PDF-1.7\n" + std::string(n - 9, ' '); }, "application/pdf",
       100 * kMiB, "document is too large"},
      {static_webp, "image/webp", 100 * kKiB, "static sticker is too large"},
      {vp8x_animated_webp, "image/webp", 500 * kKiB, "animated sticker is too large"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(check_media(c.make(c.limit), c.mime).size, c.limit) << c.mime;
    std::string message = rejection(c.make(c.limit + 1), c.mime);
    EXPECT_NE(message.find(c.label), std::string::npos) << message;
    EXPECT_NE(message.find(std::to_string(c.limit + 1) + " bytes"), std::string::npos) << message;
    EXPECT_NE(message.find("limit is " + std::to_string(c.limit) + " bytes"), std::string::npos)
        << message;
  }
}

TEST(Check, RejectionsSayWhy) {
  EXPECT_EQ(rejection(""), "media is empty (0 bytes)");
  EXPECT_EQ(rejection("", "image/png"), "media is empty (0 bytes)");
  EXPECT_EQ(rejection("GIF89a\x01\x00", "image/gif"),
            "MIME type image/gif is not accepted by WhatsApp");
  EXPECT_EQ(rejection("GIF89a\x01\x00"), "content is image/gif, which is not accepted by WhatsApp");
  EXPECT_EQ(rejection(jpeg(), "image/png"),
            "content does not match the declared type: declared image/png, content is image/jpeg");
  EXPECT_EQ(rejection(random_bytes(100), "application/pdf"),
            "content does not match the declared type: declared application/pdf, content is not a "
            "recognised format");
  EXPECT_EQ(rejection(random_bytes(100)), "content type not recognised and no MIME type declared");
  EXPECT_EQ(rejection(png(), "text/plain"),
            "content does not match the declared type: declared text/plain, content is image/png");
  EXPECT_EQ(rejection("caf\xE9 au lait", "text/plain"),
            "content does not match the declared type: declared text/plain, content is not valid "
            "UTF-8 text");
  EXPECT_NE(rejection(ogg("\x01vorbis"), "audio/ogg").find("Opus"), std::string::npos);
  EXPECT_NE(rejection(ftyp("M4A "), "video/mp4").find("content is audio/mp4"), std::string::npos);
}

TEST(Check, TextMustBeUtf8Throughout) {
  // Valid in the sniffed head, broken far beyond it.
  std::string text(200 * 1024, 'a');
  EXPECT_EQ(check_media(text, "text/plain").size, text.size());
  text += "\xFF";
  EXPECT_NE(rejection(text, "text/plain").find("not valid UTF-8 text throughout"),
            std::string::npos);
  EXPECT_NE(rejection("truncated \xE2\x82", "text/plain").find("UTF-8"), std::string::npos);
}

TEST(Check, FilesMatchBytes) {
  std::string media = vp8x_animated_webp(300 * 1024);
  TempFile file(media);
  MediaInfo from_file = check_media_file(file.path(), "image/webp");
  MediaInfo from_bytes = check_media(media, "image/webp");
  EXPECT_EQ(from_file.sha256, from_bytes.sha256);
  EXPECT_EQ(from_file.size, media.size());
  EXPECT_TRUE(from_file.animated);

  std::string big_text(3 * kMiB + 11, 'x');
  TempFile text(big_text);
  EXPECT_EQ(check_media_file(text.path()).sha256, to_hex(sha256(big_text)));

  TempFile empty("");
  EXPECT_THROW(check_media_file(empty.path()), MediaRejected);
  TempFile too_big(jpeg(5 * kMiB + 1));
  EXPECT_THROW(check_media_file(too_big.path(), "image/jpeg"), MediaRejected);
  EXPECT_THROW(check_media_file("/nonexistent/photo.jpg", "image/jpeg"), FileError);
}

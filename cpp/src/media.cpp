#include "wacloud/media.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "wacloud/errors.hpp"

namespace wacloud {
namespace {

constexpr std::size_t kChunkSize = 1 << 20;  // large reads keep syscalls rare on big files
// Sniffing looks at this much of the start, and of the end for a zip's
// central directory (up to 64 KiB of entries plus the 22-byte end record).
constexpr std::size_t kSniffHead = 64 * 1024;
constexpr std::size_t kSniffTail = 64 * 1024 + 22;

constexpr std::uint64_t kKiB = 1024;
constexpr std::uint64_t kMiB = 1024 * 1024;

constexpr std::string_view kOleStorage = "application/x-ole-storage";
constexpr std::string_view kZip = "application/zip";
constexpr std::string_view kDocx =
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
constexpr std::string_view kXlsx =
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
constexpr std::string_view kPptx =
    "application/vnd.openxmlformats-officedocument.presentationml.presentation";

// ---- small byte helpers ------------------------------------------------------

bool starts_with(std::string_view bytes, std::string_view prefix, std::size_t at = 0) {
  return bytes.size() >= at + prefix.size() && bytes.compare(at, prefix.size(), prefix) == 0;
}

unsigned byte_at(std::string_view bytes, std::size_t at) {
  return static_cast<unsigned char>(bytes[at]);
}

std::uint32_t le16(std::string_view bytes, std::size_t at) {
  return byte_at(bytes, at) | (byte_at(bytes, at + 1) << 8);
}

std::uint32_t le32(std::string_view bytes, std::size_t at) {
  return le16(bytes, at) | (le16(bytes, at + 2) << 16);
}

// ---- files ---------------------------------------------------------------------

[[noreturn]] void throw_file_error(int error_number, const std::string& path) {
  throw FileError(error_number, path, std::strerror(error_number));
}

class InputFile {
 public:
  explicit InputFile(const std::string& path) : path_(path) {
    do {
      fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    } while (fd_ < 0 && errno == EINTR);
    if (fd_ < 0) throw_file_error(errno, path);
    struct stat info {};
    if (::fstat(fd_, &info) != 0) fail(errno);
    // open() succeeds on a directory; say so now rather than failing on read().
    if (S_ISDIR(info.st_mode)) fail(EISDIR);
    regular_ = S_ISREG(info.st_mode);
    size_ = regular_ ? static_cast<std::uint64_t>(info.st_size) : 0;
#ifdef POSIX_FADV_SEQUENTIAL
    if (regular_) ::posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
  }
  ~InputFile() { ::close(fd_); }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  // Reads until `size` bytes or end of file (from `offset` when >= 0, else from
  // the current position); returns the count read.
  std::size_t read(char* buffer, std::size_t size, off_t offset = -1) {
    std::size_t done = 0;
    while (done < size) {
      ssize_t count =
          offset >= 0 ? ::pread(fd_, buffer + done, size - done, offset + static_cast<off_t>(done))
                      : ::read(fd_, buffer + done, size - done);
      if (count < 0 && errno == EINTR) continue;
      if (count < 0) fail(errno);
      if (count == 0) break;
      done += static_cast<std::size_t>(count);
    }
    return done;
  }

  // The last bytes after the first `head_size`, for zip sniffing; empty when
  // the size is unknown (pipes) or the head already holds everything.
  std::string read_tail(std::size_t head_size) {
    if (!regular_ || size_ <= head_size) return {};
    std::uint64_t start =
        std::max<std::uint64_t>(head_size, size_ - std::min<std::uint64_t>(size_, kSniffTail));
    std::string tail(static_cast<std::size_t>(size_ - start), '\0');
    tail.resize(read(tail.data(), tail.size(), static_cast<off_t>(start)));
    return tail;
  }

  bool regular() const { return regular_; }
  std::uint64_t size() const { return size_; }

 private:
  [[noreturn]] void fail(int error_number) {
    ::close(fd_);
    fd_ = -1;
    throw_file_error(error_number, path_);
  }

  std::string path_;
  int fd_ = -1;
  bool regular_ = false;
  std::uint64_t size_ = 0;
};

// ---- sniffing ------------------------------------------------------------------

// UTF-8 text, fed in pieces: rejects malformed, overlong and surrogate
// sequences, NUL and other control characters binary formats are full of.
class TextValidator {
 public:
  void feed(std::string_view bytes) {
    for (char c : bytes) {
      if (!valid_) return;
      unsigned b = static_cast<unsigned char>(c);
      if (pending_ > 0) {
        if (b < lower_ || b > upper_) valid_ = false;
        lower_ = 0x80;
        upper_ = 0xBF;
        --pending_;
      } else if (b < 0x80) {
        // Tab, LF, VT, FF, CR and ESC occur in real text files; others do not.
        valid_ =
            b >= 0x20 || b == '\t' || b == '\n' || b == '\v' || b == '\f' || b == '\r' || b == 0x1B;
      } else if (b >= 0xC2 && b <= 0xDF) {
        pending_ = 1;
      } else if (b >= 0xE0 && b <= 0xEF) {
        pending_ = 2;
        if (b == 0xE0) lower_ = 0xA0;  // overlong
        if (b == 0xED) upper_ = 0x9F;  // UTF-16 surrogates
      } else if (b >= 0xF0 && b <= 0xF4) {
        pending_ = 3;
        if (b == 0xF0) lower_ = 0x90;  // overlong
        if (b == 0xF4) upper_ = 0x8F;  // above U+10FFFF
      } else {
        valid_ = false;
      }
    }
  }
  // Valid so far; a sequence cut off at the end is allowed (a sniffed head).
  bool valid_prefix() const { return valid_; }
  bool valid_complete() const { return valid_ && pending_ == 0; }

 private:
  bool valid_ = true;
  int pending_ = 0;
  unsigned lower_ = 0x80, upper_ = 0xBF;
};

// The OOXML type named by the first word/, xl/ or ppt/ entry found in zip
// local headers or central-directory records within `bytes`, else "".
std::string_view ooxml_type_in(std::string_view bytes) {
  static constexpr std::pair<std::string_view, std::size_t> kRecords[] = {
      {std::string_view("PK\x03\x04", 4), 26},  // local file header: name length at 26
      {std::string_view("PK\x01\x02", 4), 28},  // central directory: name length at 28
  };
  for (std::size_t at = bytes.find("PK"); at != std::string_view::npos;
       at = bytes.find("PK", at + 1)) {
    for (auto [signature, length_at] : kRecords) {
      if (!starts_with(bytes, signature, at) || at + length_at + 2 > bytes.size()) continue;
      std::size_t name_at = at + (length_at == 26 ? 30 : 46);
      std::string_view name =
          bytes.substr(std::min(name_at, bytes.size()), le16(bytes, at + length_at));
      if (starts_with(name, "word/")) return kDocx;
      if (starts_with(name, "xl/")) return kXlsx;
      if (starts_with(name, "ppt/")) return kPptx;
    }
  }
  return {};
}

bool is_adts_header(std::string_view bytes, std::size_t at) {
  // 12-bit sync, layer 00, a defined sampling-frequency index.
  return bytes.size() >= at + 3 && byte_at(bytes, at) == 0xFF &&
         (byte_at(bytes, at + 1) & 0xF6) == 0xF0 && ((byte_at(bytes, at + 2) >> 2) & 0x0F) < 13;
}

bool is_mpeg_audio_header(std::string_view bytes, std::size_t at) {
  if (bytes.size() < at + 3 || byte_at(bytes, at) != 0xFF) return false;
  unsigned b1 = byte_at(bytes, at + 1), b2 = byte_at(bytes, at + 2);
  bool sync = (b1 & 0xE0) == 0xE0;
  bool version_ok = ((b1 >> 3) & 0x03) != 0x01;  // 01 is reserved
  bool layer_ok = ((b1 >> 1) & 0x03) != 0x00;    // 00 is reserved (and means ADTS)
  bool bitrate_ok = (b2 >> 4) != 0x0F;
  bool rate_ok = ((b2 >> 2) & 0x03) != 0x03;
  return sync && version_ok && layer_ok && bitrate_ok && rate_ok;
}

std::string_view sniff_iso_media(std::string_view brand) {
  if (starts_with(brand, "3gp")) return "video/3gpp";
  if (starts_with(brand, "3g2")) return "video/3gpp2";
  if (brand == "M4A " || brand == "M4B " || brand == "M4P ") return "audio/mp4";
  if (brand == "qt  ") return "video/quicktime";
  if (brand == "heic" || brand == "heix" || brand == "mif1" || brand == "msf1") return "image/heic";
  if (brand == "avif" || brand == "avis") return "image/avif";
  return "video/mp4";
}

std::string_view sniff_binary(std::string_view head) {
  if (starts_with(head, "\xFF\xD8\xFF")) return "image/jpeg";
  if (starts_with(head, "\x89PNG\r\n\x1A\n")) return "image/png";
  if (starts_with(head, "GIF87a") || starts_with(head, "GIF89a")) return "image/gif";
  if (starts_with(head, "RIFF") && starts_with(head, "WEBP", 8)) return "image/webp";
  if (starts_with(head, "RIFF") && starts_with(head, "WAVE", 8)) return "audio/wav";
  if (starts_with(head, "%PDF-")) return "application/pdf";
  if (starts_with(head, "OggS")) return "audio/ogg";
  if (starts_with(head, "#!AMR\n")) return "audio/amr";
  if (starts_with(head, "#!AMR-WB\n")) return "audio/amr-wb";
  if (starts_with(head, "ftyp", 4) && head.size() >= 12) return sniff_iso_media(head.substr(8, 4));
  if (starts_with(head, std::string_view("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8)))
    return kOleStorage;
  if (starts_with(head, "ID3") && head.size() >= 10) {
    // An ID3v2 tag usually fronts MP3, sometimes ADTS AAC: look past it.
    std::size_t size = 10 + ((byte_at(head, 6) & 0x7F) << 21 | (byte_at(head, 7) & 0x7F) << 14 |
                             (byte_at(head, 8) & 0x7F) << 7 | (byte_at(head, 9) & 0x7F));
    if (byte_at(head, 5) & 0x10) size += 10;  // footer present
    return is_adts_header(head, size) ? "audio/aac" : "audio/mpeg";
  }
  if (is_adts_header(head, 0)) return "audio/aac";
  if (is_mpeg_audio_header(head, 0)) return "audio/mpeg";
  return {};
}

// ---- Meta's rules --------------------------------------------------------------

bool is_office_type(std::string_view mime) {
  return mime == "application/msword" || mime == "application/vnd.ms-excel" ||
         mime == "application/vnd.ms-powerpoint" || mime == kDocx || mime == kXlsx || mime == kPptx;
}

bool is_opus_ogg(std::string_view head) {
  // The first page's packet is the codec's identification header.
  if (!starts_with(head, "OggS") || head.size() < 27) return false;
  return starts_with(head, "OpusHead", 27 + byte_at(head, 26));
}

bool content_matches(std::string_view declared, std::string_view sniffed) {
  if (declared == sniffed) return true;
  // A zip or OLE2 container whose Office parts lie outside the sniffed bytes,
  // or an encrypted OOXML file (stored as OLE2), is any Office document.
  if (is_office_type(declared)) return sniffed == kZip || sniffed == kOleStorage;
  // Audio-only MP4 files often carry a generic brand such as isom or mp42.
  return declared == "audio/mp4" && sniffed == "video/mp4";
}

std::string human_size(std::uint64_t bytes) {
  if (bytes % kMiB == 0) return std::to_string(bytes / kMiB) + " MiB";
  if (bytes % kKiB == 0) return std::to_string(bytes / kKiB) + " KiB";
  return std::to_string(bytes) + " bytes";
}

const MediaRule& rule_for(MediaKind kind) {
  for (const MediaRule& rule : media_rules()) {
    if (rule.kind == kind) return rule;
  }
  throw std::logic_error("no media rule for kind");
}

std::string describe_content(std::string_view declared, const std::string& sniffed) {
  if (!sniffed.empty()) return sniffed;
  return declared == "text/plain" ? "not valid UTF-8 text" : "not a recognised format";
}

// Decides type, kind and limit from the first bytes, then hashes (and, for
// text, validates) the whole content as it is fed.
class MediaCheck {
 public:
  MediaCheck(std::string_view declared, std::string_view head, std::string_view tail,
             std::optional<std::uint64_t> known_size)
      : declared_(normalize_mime(declared)) {
    if (known_size && *known_size == 0) reject("media is empty (0 bytes)");
    std::string sniffed = sniff_mime(head, tail);
    if (!declared_.empty()) {
      if (!kind_for_mime(declared_)) {
        reject("MIME type " + declared_ + " is not accepted by WhatsApp");
      }
      if (!content_matches(declared_, sniffed)) {
        reject("content does not match the declared type: declared " + declared_ + ", content is " +
               describe_content(declared_, sniffed));
      }
      info_.mime = declared_;
    } else if (sniffed.empty()) {
      reject("content type not recognised and no MIME type declared");
    } else if (!kind_for_mime(sniffed)) {
      std::string hint = sniffed == kZip || sniffed == kOleStorage
                             ? " (declare the Office MIME type if it is a document)"
                             : "";
      reject("content is " + sniffed + ", which is not accepted by WhatsApp" + hint);
    } else {
      info_.mime = sniffed;
    }
    if (info_.mime == "audio/ogg" && !is_opus_ogg(head)) {
      reject("audio/ogg is accepted only with the Opus codec; this OGG stream is not Opus");
    }
    info_.kind = *kind_for_mime(info_.mime);
    info_.animated = info_.mime == "image/webp" && webp_is_animated(head);
    const MediaRule& rule = rule_for(info_.kind);
    limit_ = info_.animated ? rule.max_size_animated : rule.max_size;
    check_text_ = info_.mime == "text/plain";
    if (known_size) check_size(*known_size);
  }

  void feed(std::string_view bytes) {
    hasher_.update(bytes);
    if (check_text_) text_.feed(bytes);
    size_ += bytes.size();
  }

  MediaInfo finish() {
    if (size_ == 0) reject("media is empty (0 bytes)");
    check_size(size_);  // the file may have grown, or its size was unknown
    if (check_text_ && !text_.valid_complete()) {
      reject(
          "content does not match the declared type: declared text/plain, content is not "
          "valid UTF-8 text throughout");
    }
    info_.size = size_;
    info_.sha256 = to_hex(hasher_.finish());
    return std::move(info_);
  }

 private:
  [[noreturn]] static void reject(const std::string& reason) { throw MediaRejected(reason); }

  void check_size(std::uint64_t size) const {
    if (size <= limit_) return;
    std::string what(media_kind_name(info_.kind));
    if (info_.kind == MediaKind::kSticker) what = (info_.animated ? "animated " : "static ") + what;
    reject(what + " is too large: " + std::to_string(size) + " bytes, the limit is " +
           std::to_string(limit_) + " bytes (" + human_size(limit_) + ")");
  }

  std::string declared_;
  MediaInfo info_;
  std::uint64_t limit_ = 0;
  std::uint64_t size_ = 0;
  bool check_text_ = false;
  Sha256 hasher_;
  TextValidator text_;
};

std::string_view head_of(std::string_view data) { return data.substr(0, kSniffHead); }

std::string_view tail_of(std::string_view data) {
  std::size_t start = std::max(kSniffHead, data.size() - std::min(data.size(), kSniffTail));
  return data.substr(std::min(start, data.size()));
}

}  // namespace

// ---- SHA-256 -------------------------------------------------------------------

void Sha256::ContextDeleter::operator()(evp_md_ctx_st* context) const noexcept {
  EVP_MD_CTX_free(context);
}

Sha256::Sha256() : context_(EVP_MD_CTX_new()) {
  if (!context_ || EVP_DigestInit_ex(context_.get(), EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("SHA-256 initialisation failed");
  }
}

Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(std::string_view data) {
  if (!context_) throw std::logic_error("Sha256 used after being moved from");
  if (EVP_DigestUpdate(context_.get(), data.data(), data.size()) != 1) {
    throw std::runtime_error("SHA-256 update failed");
  }
}

Sha256Digest Sha256::finish() {
  if (!context_) throw std::logic_error("Sha256 used after being moved from");
  Sha256Digest digest{};
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(context_.get(), digest.data(), &length) != 1 || length != digest.size() ||
      EVP_DigestInit_ex(context_.get(), EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("SHA-256 finalisation failed");
  }
  return digest;
}

std::string to_hex(const Sha256Digest& digest) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * digest.size());
  for (unsigned char byte : digest) {
    hex.push_back(kHex[byte >> 4]);
    hex.push_back(kHex[byte & 0x0f]);
  }
  return hex;
}

std::string to_base64(const Sha256Digest& digest) {
  unsigned char out[4 * ((sizeof(Sha256Digest) + 2) / 3) + 1];
  int length = EVP_EncodeBlock(out, digest.data(), static_cast<int>(digest.size()));
  return std::string(reinterpret_cast<const char*>(out), static_cast<std::size_t>(length));
}

Sha256Digest sha256(std::string_view data) {
  Sha256 hasher;
  hasher.update(data);
  return hasher.finish();
}

Sha256Digest sha256_file(const std::string& path) {
  InputFile file(path);
  std::string buffer(kChunkSize, '\0');
  Sha256 hasher;
  while (std::size_t count = file.read(buffer.data(), buffer.size())) {
    hasher.update(std::string_view(buffer.data(), count));
  }
  return hasher.finish();
}

// ---- sniffing ------------------------------------------------------------------

bool webp_is_animated(std::string_view head) {
  if (!starts_with(head, "RIFF") || !starts_with(head, "WEBP", 8)) return false;
  if (starts_with(head, "VP8X", 12) && head.size() > 20 && (byte_at(head, 20) & 0x02)) return true;
  std::uint64_t at = 12;
  while (at + 8 <= head.size()) {
    std::string_view fourcc = head.substr(at, 4);
    if (fourcc == "ANIM" || fourcc == "ANMF") return true;
    std::uint64_t size = le32(head, at + 4);
    at += 8 + size + (size & 1);  // chunks are padded to an even length
  }
  return false;
}

std::string sniff_mime(std::string_view head, std::string_view tail) {
  std::string_view binary = sniff_binary(head);
  if (!binary.empty()) return std::string(binary);
  if (starts_with(head, "PK\x03\x04") || starts_with(head, "PK\x05\x06")) {
    std::string_view office = ooxml_type_in(head);
    if (office.empty()) office = ooxml_type_in(tail);
    return std::string(office.empty() ? kZip : office);
  }
  if (head.empty()) return {};
  TextValidator text;
  text.feed(head);
  return text.valid_prefix() ? "text/plain" : "";
}

std::string sniff_mime_data(std::string_view data) {
  return sniff_mime(head_of(data), tail_of(data));
}

std::string sniff_mime_file(const std::string& path) {
  InputFile file(path);
  std::string head(kSniffHead, '\0');
  head.resize(file.read(head.data(), head.size()));
  return sniff_mime(head, file.read_tail(head.size()));
}

// ---- Meta's rules --------------------------------------------------------------

std::string_view media_kind_name(MediaKind kind) {
  switch (kind) {
    case MediaKind::kImage:
      return "image";
    case MediaKind::kAudio:
      return "audio";
    case MediaKind::kVideo:
      return "video";
    case MediaKind::kDocument:
      return "document";
    case MediaKind::kSticker:
      return "sticker";
  }
  return "document";
}

// Meta's Cloud API media reference, "Supported media types"
// (https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media#supported-media-types):
// image 5 MB, audio and video 16 MB, document 100 MB, sticker 100 KB static and
// 500 KB animated. Meta does not define its units; we read them as binary
// (KB = 1024 bytes, MB = 1024 * 1024 bytes), as WhatsApp's own sticker sample app
// does (github.com/WhatsApp/stickers, StickerPackValidator: KB_IN_BYTES = 1024).
// Meta spells the 3GPP video type "video/3gp"; normalize_mime() maps it to the
// registered "video/3gpp". Meta accepts audio/ogg only with the Opus codec.
const std::vector<MediaRule>& media_rules() {
  static const std::vector<MediaRule> rules = {
      {MediaKind::kImage, {"image/jpeg", "image/png"}, 5 * kMiB, 5 * kMiB},
      {MediaKind::kAudio,
       {"audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg"},
       16 * kMiB,
       16 * kMiB},
      {MediaKind::kVideo, {"video/3gpp", "video/mp4"}, 16 * kMiB, 16 * kMiB},
      {MediaKind::kDocument,
       {"text/plain", "application/pdf", "application/msword", "application/vnd.ms-excel",
        "application/vnd.ms-powerpoint", kDocx, kXlsx, kPptx},
       100 * kMiB,
       100 * kMiB},
      {MediaKind::kSticker, {"image/webp"}, 100 * kKiB, 500 * kKiB},
  };
  return rules;
}

std::string normalize_mime(std::string_view mime) {
  mime = mime.substr(0, mime.find(';'));
  std::string normalized;
  for (char c : mime) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    normalized.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  }
  if (normalized == "video/3gp") normalized = "video/3gpp";
  return normalized;
}

std::optional<MediaKind> kind_for_mime(std::string_view mime) {
  std::string normalized = normalize_mime(mime);
  for (const MediaRule& rule : media_rules()) {
    for (std::string_view accepted : rule.mime_types) {
      if (accepted == normalized) return rule.kind;
    }
  }
  return std::nullopt;
}

MediaInfo check_media(std::string_view data, std::string_view declared_mime) {
  MediaCheck check(declared_mime, head_of(data), tail_of(data), data.size());
  check.feed(data);
  return check.finish();
}

MediaInfo check_media_file(const std::string& path, std::string_view declared_mime) {
  InputFile file(path);
  std::string buffer(kChunkSize, '\0');
  std::size_t count = file.read(buffer.data(), buffer.size());
  std::string_view first(buffer.data(), count);
  // Sniff the same head and tail as check_media() would from the whole content.
  std::string tail_storage;
  std::string_view tail = tail_of(first);
  if (file.regular() && file.size() > count) tail = tail_storage = file.read_tail(kSniffHead);
  // Only a regular file's size is known before reading; a pipe's is checked at the end.
  std::optional<std::uint64_t> known_size;
  if (file.regular()) known_size = std::max<std::uint64_t>(file.size(), count);
  MediaCheck check(declared_mime, head_of(first), tail, known_size);
  while (count > 0) {
    check.feed(std::string_view(buffer.data(), count));
    count = file.read(buffer.data(), buffer.size());
  }
  return check.finish();
}

}  // namespace wacloud

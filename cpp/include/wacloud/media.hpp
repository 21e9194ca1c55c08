// Media checks before an upload: SHA-256 (streaming, OpenSSL EVP), MIME
// sniffing by magic bytes, and the types and sizes the Cloud API accepts.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX, kept out of this header

namespace wacloud {

using Sha256Digest = std::array<unsigned char, 32>;

// Incremental SHA-256: feed any number of update() calls, then finish().
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(std::string_view data);
  // The digest of everything fed since construction or the last finish();
  // the hasher is then empty again and can be reused.
  Sha256Digest finish();

 private:
  struct ContextDeleter {
    void operator()(evp_md_ctx_st* context) const noexcept;
  };
  std::unique_ptr<evp_md_ctx_st, ContextDeleter> context_;
};

// Meta reports media hashes as lowercase hex in some places and as padded
// standard base64 in others.
std::string to_hex(const Sha256Digest& digest);
std::string to_base64(const Sha256Digest& digest);

Sha256Digest sha256(std::string_view data);
// Reads the file in large chunks. Throws FileError when it cannot be opened or read.
Sha256Digest sha256_file(const std::string& path);

// The MIME type the content looks like, from its first bytes (`head`) and, for
// zip archives whose entry list sits at the end, its last bytes (`tail`; may be
// empty or overlap `head`). Returns "" when nothing is recognised. Containers
// that cannot be told apart from their first bytes come back as
// "application/zip" (zip without Office parts) and "application/x-ole-storage"
// (OLE2: legacy .doc/.xls/.ppt).
std::string sniff_mime(std::string_view head, std::string_view tail = {});
// Whole content at hand: sniffs the same head and tail that check_media() and
// sniff_mime_file() look at, so all three agree.
std::string sniff_mime_data(std::string_view data);
// Reads only the head and the tail of the file. Throws FileError.
std::string sniff_mime_file(const std::string& path);

// Whether a WebP image is animated (VP8X animation flag or an ANIM/ANMF chunk).
bool webp_is_animated(std::string_view head);

enum class MediaKind { kImage, kAudio, kVideo, kDocument, kSticker };

std::string_view media_kind_name(MediaKind kind);  // "image", "audio", ...

struct MediaRule {
  MediaKind kind;
  std::vector<std::string_view> mime_types;
  std::uint64_t max_size;           // bytes
  std::uint64_t max_size_animated;  // bytes; differs from max_size only for stickers
};

// Meta's accepted MIME types and size limits, one rule per kind.
const std::vector<MediaRule>& media_rules();

// Lowercased, parameters (";charset=...") and blanks dropped, Meta's spelling
// "video/3gp" mapped to "video/3gpp".
std::string normalize_mime(std::string_view mime);
// The kind a MIME type is sent as, or nullopt when WhatsApp does not accept it.
std::optional<MediaKind> kind_for_mime(std::string_view mime);

struct MediaInfo {
  std::string mime;  // the declared type when given, else the sniffed one
  MediaKind kind = MediaKind::kDocument;
  std::uint64_t size = 0;
  std::string sha256;  // lowercase hex
  bool animated = false;
};

// Sniffs the content, reconciles it with `declared_mime` (empty: not declared),
// and enforces the accepted types and the size limit of the kind. Throws
// MediaRejected saying why: empty, type not accepted, content not matching the
// declared type, or too large (with both sizes).
MediaInfo check_media(std::string_view data, std::string_view declared_mime = {});
// The same for a file, sniffed from its head and hashed in one pass. Throws
// FileError when it cannot be read.
MediaInfo check_media_file(const std::string& path, std::string_view declared_mime = {});

}  // namespace wacloud

// What parsing a webhook body costs at least, per JSON library, on the corpus bench_parse.py
// uses: wacloud::parse_webhook (tree and events), Boost.JSON's tree alone, Boost.JSON's tokenizer
// alone (basic_parser with a handler that keeps nothing: no parser that checks every byte of
// the JSON with Boost.JSON can do less), and simdjson's tree when the build found simdjson
// (not a dependency of wacloud: measured to know what another library would change).
//
// Build and run: make bench-json-floor (docs/performance.md, "The floor of any parse").
#include <algorithm>
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "wacloud/errors.hpp"
#include "wacloud/webhook.hpp"
#ifdef WACLOUD_HAVE_SIMDJSON
#include <simdjson.h>
#endif

namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

// Boost.JSON's SAX interface, every event accepted and dropped.
struct DropEverything {
  static constexpr std::size_t max_object_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_array_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_key_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_string_size = static_cast<std::size_t>(-1);
  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) { return true; }
  bool on_object_end(std::size_t, json::error_code&) { return true; }
  bool on_array_begin(json::error_code&) { return true; }
  bool on_array_end(std::size_t, json::error_code&) { return true; }
  bool on_key_part(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_key(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_string_part(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_string(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(std::int64_t, json::string_view, json::error_code&) { return true; }
  bool on_uint64(std::uint64_t, json::string_view, json::error_code&) { return true; }
  bool on_double(double, json::string_view, json::error_code&) { return true; }
  bool on_bool(bool, json::error_code&) { return true; }
  bool on_null(json::error_code&) { return true; }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }
};

// The bodies of the corpus wacloud parses (bodies kept to test refusals are left out), each once.
std::vector<std::string> corpus(const fs::path& repo) {
  std::vector<fs::path> dirs = {repo / "tests/data/webhooks",
                                repo / "tests/data/webhooks-tolerance"};
  const fs::path shared = repo.parent_path() / "shared/fixtures";
  if (fs::is_directory(shared)) {
    std::set<fs::path> found;
    for (const auto& item : fs::directory_iterator(shared)) {
      if (item.is_directory() && item.path().filename().string().rfind("webhooks", 0) == 0) {
        found.insert(item.path());
      }
    }
    dirs.insert(dirs.end(), found.begin(), found.end());
  }
  std::set<std::string> seen;
  std::vector<std::string> bodies;
  for (const fs::path& dir : dirs) {
    if (!fs::is_directory(dir)) continue;
    std::set<fs::path> files;
    for (const auto& item : fs::directory_iterator(dir)) {
      if (item.path().extension() == ".json") files.insert(item.path());
    }
    for (const fs::path& file : files) {
      std::ifstream in(file, std::ios::binary);
      std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (!seen.insert(body).second) continue;
      try {
        wacloud::parse_webhook(body);
      } catch (const wacloud::WebhookPayloadError&) {
        continue;
      }
      bodies.push_back(std::move(body));
    }
  }
  return bodies;
}

// Microseconds per body, best of `repeats` passes of `rounds` times the corpus.
template <typename Work>
double per_body(const std::vector<std::string>& bodies, int rounds, int repeats, Work&& work) {
  double best = 1e300;
  for (int repeat = 0; repeat < repeats; ++repeat) {
    const auto started = std::chrono::steady_clock::now();
    for (int round = 0; round < rounds; ++round) {
      for (const std::string& body : bodies) work(body);
    }
    const std::chrono::duration<double, std::micro> took =
        std::chrono::steady_clock::now() - started;
    best = std::min(best, took.count() / (static_cast<double>(rounds) * bodies.size()));
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const fs::path repo = fs::canonical(argc > 1 ? fs::path(argv[1]) : fs::current_path());
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 200;
  const std::vector<std::string> bodies = corpus(repo);
  if (bodies.empty()) {
    std::fprintf(stderr, "json_floor: no corpus under %s/tests/data\n", repo.c_str());
    return 1;
  }
  std::size_t bytes = 0;
  for (const std::string& body : bodies) bytes += body.size();
  std::size_t kept = 0;  // read after the loops, so no work is optimized away
  const int repeats = 5;
  std::printf(
      "json floor: %zu corpus bodies, %.0f bytes on average, x %d (us per body, best of %d)\n",
      bodies.size(), static_cast<double>(bytes) / bodies.size(), rounds, repeats);
  const double events = per_body(bodies, rounds, repeats, [&](const std::string& body) {
    kept += wacloud::parse_webhook(body).size();
  });
  std::printf("  wacloud::parse_webhook (tree and events)  %.3f\n", events);
  const double tree = per_body(bodies, rounds, repeats, [&](const std::string& body) {
    unsigned char buffer[8192];
    json::monotonic_resource arena(buffer, sizeof buffer);
    json::error_code error;
    const json::value value = json::parse(body, error, json::storage_ptr(&arena));
    kept += !error && value.is_object();
  });
  std::printf("  Boost.JSON tree (arena)                   %.3f\n", tree);
  json::basic_parser<DropEverything> tokenizer(json::parse_options{});
  const double tokens = per_body(bodies, rounds, repeats, [&](const std::string& body) {
    json::error_code error;
    tokenizer.reset();
    tokenizer.write_some(false, body.data(), body.size(), error);
    kept += !error;
  });
  std::printf("  Boost.JSON tokenizer alone (no tree)      %.3f\n", tokens);
#ifdef WACLOUD_HAVE_SIMDJSON
  std::vector<simdjson::padded_string> padded(bodies.begin(), bodies.end());
  simdjson::dom::parser parser;
  std::size_t next = 0;
  const double simd = per_body(bodies, rounds, repeats, [&](const std::string&) {
    kept += parser.parse(padded[next++ % padded.size()]).error() == simdjson::SUCCESS;
  });
  std::printf("  simdjson tree (dom)                       %.3f\n", simd);
#else
  std::printf("  simdjson: not found at configure time (libsimdjson-dev adds it)\n");
#endif
  return kept == 0 ? 1 : 0;
}

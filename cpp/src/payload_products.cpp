// Catalog product messages, as Meta's interactive message reference gives them:
// "product" (a catalog_id and product_retailer_id; body up to 1024 characters and
// footer up to 60, both optional; no header) and "product_list" (a text header up to
// 60 and a body, both required; up to 10 sections, titled (24) when there are
// several, and 30 products in all). Also the business profile's vertical and email.
#include "payload_products.hpp"

#include <set>
#include <string>

namespace wacloud::detail {
namespace json = boost::json;

namespace {

constexpr std::size_t kIdLength = 256;

void check_text(std::string_view text, const std::string& field, std::size_t max) {
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos)
    throw_invalid_parameter(field, "must not be empty");
  std::size_t count = count_code_points(text, field);
  if (count > max) {
    throw_invalid_parameter(field, "is " + std::to_string(count) +
                                       " characters; Meta allows at most " + std::to_string(max));
  }
}

void put_footer(json::object& interactive, const std::optional<std::string>& footer) {
  if (!footer) return;
  check_text(*footer, "footer", limits::kFooterText);
  interactive["footer"] = json::object{{"text", *footer}};
}

json::object product_section(const ProductSection& section, const std::string& field, bool titled) {
  json::object out;
  if (section.title) {
    check_text(*section.title, field + ".title", limits::kSectionTitle);
    out["title"] = *section.title;
  } else if (titled) {
    throw_invalid_parameter(field + ".title", "is required when there is more than one section");
  }
  if (section.product_retailer_ids.empty())
    throw_invalid_parameter(field + ".product_retailer_ids", "must hold at least one product");
  json::array items;
  for (std::size_t p = 0; p < section.product_retailer_ids.size(); ++p) {
    std::string item = field + ".product_retailer_ids[" + std::to_string(p) + "]";
    check_text(section.product_retailer_ids[p], item, kIdLength);
    items.push_back(json::object{{"product_retailer_id", section.product_retailer_ids[p]}});
  }
  out["product_items"] = std::move(items);
  return out;
}

}  // namespace

json::object product_interactive(const ProductMessage& m) {
  check_text(m.catalog_id, "catalog_id", kIdLength);
  check_text(m.product_retailer_id, "product_retailer_id", kIdLength);
  json::object interactive{{"type", "product"}};
  if (m.body) {
    check_text(*m.body, "body", limits::kProductBody);
    interactive["body"] = json::object{{"text", *m.body}};
  }
  put_footer(interactive, m.footer);
  interactive["action"] =
      json::object{{"catalog_id", m.catalog_id}, {"product_retailer_id", m.product_retailer_id}};
  return interactive;
}

json::object product_list_interactive(const ProductListMessage& m) {
  check_text(m.header, "header", limits::kHeaderText);
  check_text(m.body, "body", limits::kProductBody);
  check_text(m.catalog_id, "catalog_id", kIdLength);
  if (m.sections.empty() || m.sections.size() > limits::kMaxProductSections)
    throw_invalid_parameter("sections", "must hold 1 to 10 sections");
  std::size_t total = 0;
  json::array sections;
  for (std::size_t s = 0; s < m.sections.size(); ++s) {
    std::string field = "sections[" + std::to_string(s) + "]";
    sections.push_back(product_section(m.sections[s], field, m.sections.size() > 1));
    total += m.sections[s].product_retailer_ids.size();
  }
  if (total > limits::kMaxProducts) {
    throw_invalid_parameter(
        "sections", "hold " + std::to_string(total) + " products; Meta allows at most 30 in all");
  }
  json::object interactive{{"type", "product_list"},
                           {"header", json::object{{"type", "text"}, {"text", m.header}}},
                           {"body", json::object{{"text", m.body}}}};
  put_footer(interactive, m.footer);
  interactive["action"] =
      json::object{{"catalog_id", m.catalog_id}, {"sections", std::move(sections)}};
  return interactive;
}

bool is_profile_vertical(std::string_view vertical) {
  static const std::set<std::string_view> kVerticals = {
      "OTHER",     "AUTO",       "BEAUTY",    "APPAREL",         "EDU",
      "ENTERTAIN", "EVENT_PLAN", "FINANCE",   "GROCERY",         "GOVT",
      "HOTEL",     "HEALTH",     "NONPROFIT", "PROF_SERVICES",   "RETAIL",
      "TRAVEL",    "RESTAURANT", "ALCOHOL",   "ONLINE_GAMBLING", "PHYSICAL_GAMBLING",
      "OTC_DRUGS"};
  return kVerticals.count(vertical) != 0;
}

bool is_email(std::string_view email) {
  std::size_t at = email.find('@');
  if (at == 0 || at == std::string_view::npos || email.find('@', at + 1) != std::string_view::npos)
    return false;
  std::size_t dot = email.rfind('.');
  return dot != std::string_view::npos && dot > at + 1 && dot + 1 < email.size() &&
         email.find_first_of(" \t\r\n") == std::string_view::npos;
}

}  // namespace wacloud::detail

// Catalog product messages and the business profile's value checks, kept out of
// payloads.cpp (which dispatches to them). Private to the core.
#pragma once

#include <boost/json/object.hpp>
#include <string_view>

#include "wacloud/payloads.hpp"

namespace wacloud::detail {

// The `interactive` object of a single product (no header; optional body and
// footer) and of a product list (text header and body; 1-10 sections, titled when
// several, 30 products in all). Throw kInvalidParameter naming the field.
boost::json::object product_interactive(const ProductMessage& message);
boost::json::object product_list_interactive(const ProductListMessage& message);

// A vertical Meta takes in a profile update (UNDEFINED and NOT_A_BIZ are only read back).
bool is_profile_vertical(std::string_view vertical);
// local@domain.tld without spaces: the shape Meta checks.
bool is_email(std::string_view email);

}  // namespace wacloud::detail

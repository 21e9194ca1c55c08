// Shared by graph_client.cpp and batch_sender.cpp: what one HTTP exchange with
// the Graph API amounts to.
#pragma once

#include <boost/json/value.hpp>
#include <string>
#include <string_view>
#include <variant>

#include "http_transport.hpp"
#include "wacloud/errors.hpp"
#include "wacloud/graph_client.hpp"

namespace wacloud::detail {

// The parsed JSON body of a successful exchange, or why it failed. A failure
// after the request left the process is kDeliveryUnknown unless `idempotent`
// (then it is transient and retried); nothing sent is always transient.
using CallOutcome = std::variant<boost::json::value, GraphErrorInfo>;
CallOutcome outcome_of(const http::Response& response, bool idempotent);

// The SendResult in a send's success answer; throws GraphError
// (kDeliveryUnknown) when Meta's answer lacks the message id.
SendResult send_result_from(const boost::json::value& answer);

// `text` as a query-string value: unreserved characters kept, every other byte %XX.
std::string percent_encode(std::string_view text);

}  // namespace wacloud::detail

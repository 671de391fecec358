// OpenAI-shaped error bodies.
#include "server/api_error.h"

#include <nlohmann/json.hpp>
#include <utility>

namespace autarky::server {

ApiError InvalidRequest(std::string message, std::string param, std::string code) {
  ApiError e;
  e.status = 400;
  e.message = std::move(message);
  e.param = std::move(param);
  e.code = std::move(code);
  return e;
}

std::string ErrorJson(const ApiError& error) {
  nlohmann::ordered_json body;
  auto or_null = [](const std::string& s) {
    return s.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(s);
  };
  body["error"] = {{"message", error.message},
                   {"type", error.type},
                   {"param", or_null(error.param)},
                   {"code", or_null(error.code)}};
  // Messages may quote request bytes: never let invalid UTF-8 break the error itself.
  return body.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string HttpErrorJson(int status, const std::string& message) {
  ApiError e;
  e.status = status;
  e.message = message;
  switch (status) {
    case 401:
      e.type = "authentication_error";
      e.code = "invalid_api_key";
      break;
    case 404:
      e.type = "not_found_error";
      break;
    case 408:
      e.code = "request_timeout";
      break;
    case 413:
      e.code = "request_too_large";
      break;
    case 429:
      e.type = "rate_limit_error";
      e.code = "rate_limit_exceeded";
      break;
    case 503:
      e.type = "server_error";
      e.code = "server_overloaded";
      break;
    default:
      if (status >= 500) e.type = "server_error";
      break;
  }
  return ErrorJson(e);
}

}  // namespace autarky::server

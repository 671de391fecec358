// ApiError: an error as OpenAI's API reports it, {"error": {"message", "type", "param",
// "code"}}, with the HTTP status it goes with.
#pragma once

#include <string>

namespace autarky::server {

struct ApiError {
  int status = 400;
  std::string message;
  std::string type = "invalid_request_error";
  std::string param;  // the request field at fault; empty: null
  std::string code;   // e.g. "context_length_exceeded"; empty: null
};

// 400 invalid_request_error about `param`.
ApiError InvalidRequest(std::string message, std::string param = {}, std::string code = {});

// The JSON body of an error response.
std::string ErrorJson(const ApiError& error);
// The body for an error the HTTP layer answers by itself (its status picks the type).
std::string HttpErrorJson(int status, const std::string& message);

}  // namespace autarky::server

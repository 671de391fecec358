// Typed access to the fields of a Hugging Face JSON file (config.json, generation_config.json),
// with errors that name the file and the field; shared by the folder loaders in io/hf_*.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <utility>

#include "util/status.h"

namespace autarky {

// A JSON file whose top level must be an object; errors name the file.
inline Result<nlohmann::json> ReadHfJson(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return ErrorStatus(path.string() + ": cannot open");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return ErrorStatus(path.string() + ": read error");
  nlohmann::json j = nlohmann::json::parse(text.str(), nullptr, false);
  if (j.is_discarded()) return ErrorStatus(path.string() + ": not valid JSON");
  if (!j.is_object()) return ErrorStatus(path.string() + ": not a JSON object");
  return j;
}

class HfFields {
 public:
  // `j` must outlive this object.
  HfFields(const nlohmann::json& j, std::string file) : j_(j), file_(std::move(file)) {}

  bool Has(const std::string& key) const {
    return j_.is_object() && j_.contains(key) && !j_[key].is_null();
  }

  Result<int64_t> Int(const std::string& key) const {
    if (!Has(key)) return ErrorStatus(file_ + ": field '" + key + "' is missing");
    const nlohmann::json& v = j_[key];
    if (v.is_number_unsigned() && v.get<uint64_t>() <= uint64_t{1} << 40) {
      return static_cast<int64_t>(v.get<uint64_t>());
    }
    if (v.is_number_integer() && std::llabs(v.get<int64_t>()) <= int64_t{1} << 40) {
      return v.get<int64_t>();
    }
    return ErrorStatus(file_ + ": field '" + key + "' is not an integer of sane size");
  }
  Result<int64_t> IntOr(const std::string& key, int64_t fallback) const {
    if (!Has(key)) return fallback;
    return Int(key);
  }
  Result<double> Float(const std::string& key) const {
    if (!Has(key)) return ErrorStatus(file_ + ": field '" + key + "' is missing");
    if (!j_[key].is_number()) return ErrorStatus(file_ + ": field '" + key + "' is not a number");
    return j_[key].get<double>();
  }
  Result<double> FloatOr(const std::string& key, double fallback) const {
    if (!Has(key)) return fallback;
    return Float(key);
  }
  Result<std::string> String(const std::string& key) const {
    if (!Has(key)) return ErrorStatus(file_ + ": field '" + key + "' is missing");
    if (!j_[key].is_string()) return ErrorStatus(file_ + ": field '" + key + "' is not a string");
    return j_[key].get<std::string>();
  }
  Result<bool> BoolOr(const std::string& key, bool fallback) const {
    if (!Has(key)) return fallback;
    if (!j_[key].is_boolean()) return ErrorStatus(file_ + ": field '" + key + "' is not a bool");
    return j_[key].get<bool>();
  }
  const std::string& file() const { return file_; }

  // The kind of a rope_scaling object: "rope_type" (newer configs) or "type" (older ones);
  // empty when neither is a string.
  std::string RopeScalingType() const {
    for (const char* key : {"rope_type", "type"}) {
      if (Has(key) && j_[key].is_string()) return j_[key].get<std::string>();
    }
    return std::string();
  }

 private:
  const nlohmann::json& j_;
  std::string file_;
};

}  // namespace autarky

// generation_config.json -> general.sampling.* (see hf_generation.h).
#include "io/hf_generation.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "io/hf_json.h"

namespace autarky {

Status GenerationConfigToMetadata(const std::string& dir, GgufWriter& w) {
  namespace fs = std::filesystem;
  const fs::path path = fs::path(dir) / "generation_config.json";
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return Status::Ok();
  const std::string name = path.string();
  std::ifstream in(path, std::ios::binary);
  if (!in) return ErrorStatus(name + ": cannot open");
  std::ostringstream text;
  text << in.rdbuf();
  const nlohmann::json j = nlohmann::json::parse(text.str(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return ErrorStatus(name + ": not a JSON object");
  const HfFields f(j, name);
  ASSIGN_OR_RETURN(const bool do_sample, f.BoolOr("do_sample", true));
  if (!do_sample) {
    w.Set("general.sampling.temp", GgufValue::F32(0.0f));
    return Status::Ok();
  }
  auto unit_float = [&](const char* field, const char* key, double lo, double hi) -> Status {
    if (!f.Has(field)) return Status::Ok();
    ASSIGN_OR_RETURN(const double v, f.Float(field));
    if (!(v >= lo && v <= hi)) {
      return ErrorStatus(name + ": field '" + field + "' = " + std::to_string(v) + " is outside [" +
                         std::to_string(lo) + ", " + std::to_string(hi) + "]");
    }
    w.Set(key, GgufValue::F32(static_cast<float>(v)));
    return Status::Ok();
  };
  RETURN_IF_ERROR(unit_float("temperature", "general.sampling.temp", 0.0, 100.0));
  RETURN_IF_ERROR(unit_float("top_p", "general.sampling.top_p", 0.0, 1.0));
  RETURN_IF_ERROR(unit_float("min_p", "general.sampling.min_p", 0.0, 1.0));
  RETURN_IF_ERROR(unit_float("repetition_penalty", "general.sampling.penalty_repeat", 0.0, 100.0));
  if (f.Has("top_k")) {
    ASSIGN_OR_RETURN(const int64_t k, f.Int("top_k"));
    if (k < 0 || k > (int64_t{1} << 30)) {
      return ErrorStatus(name + ": field 'top_k' = " + std::to_string(k) + " is out of range");
    }
    w.Set("general.sampling.top_k", GgufValue::I32(static_cast<int32_t>(k)));
  }
  return Status::Ok();
}

}  // namespace autarky

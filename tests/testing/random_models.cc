// Random-weight model files for tests (see random_models.h).
#include "testing/random_models.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "tools/quantize_model.h"

namespace autarky::testing {

std::string RandomModelFile(const tools::RandomModelOptions& options, const std::string& type,
                            bool pure) {
  namespace fs = std::filesystem;
  const fs::path f32 = options.output;
  if (!fs::exists(f32)) {
    auto written = tools::WriteRandomModel(options);
    EXPECT_TRUE(written.ok()) << written.status().message();
  }
  if (type == "F32") return f32.string();
  const fs::path out = f32.parent_path() / (f32.stem().string() + "-" + type + ".gguf");
  if (!fs::exists(out)) {
    tools::QuantizeModelOptions q;
    q.input = f32.string();
    q.output = out.string();
    q.mix = tools::FindQuantMix(type);
    EXPECT_NE(q.mix, nullptr) << type;
    q.pure = pure;
    q.threads = 1;
    q.progress = false;
    auto stats = tools::QuantizeModel(q);
    EXPECT_TRUE(stats.ok()) << stats.status().message();
  }
  return out.string();
}

}  // namespace autarky::testing

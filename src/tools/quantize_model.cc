// QuantizeModel: plan with the mix rules, then convert row chunks in parallel and stream them
// to the GGUF writer, so memory stays bounded by one chunk whatever the model's size.
#include "tools/quantize_model.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "io/gguf_reader.h"
#include "io/gguf_split.h"
#include "io/gguf_writer.h"
#include "kernels/quantize.h"
#include "util/progress.h"
#include "util/thread_pool.h"

namespace autarky::tools {
namespace {

// Elements converted per chunk: 16 MiB of floats keeps memory small and threads busy.
constexpr int64_t kChunkElements = int64_t{4} << 20;
// Rows per parallel task within a chunk; small enough to balance 2..64 threads.
constexpr int64_t kMinTaskElements = int64_t{64} << 10;

// llama.cpp's GGML_QNT_VERSION: the quantization format revision stored with the file.
constexpr uint32_t kQuantizationVersion = 2;

std::string ShapeString(const GgufTensorInfo& t) {
  std::string s = "[";
  for (int i = 0; i < t.n_dims; ++i) s += (i ? ", " : "") + std::to_string(t.dims[i]);
  return s + "]";
}

bool SameFile(const std::string& a, const std::string& b) {
  struct stat sa {}, sb {};
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

// An integer hyper-parameter that some converters store per layer as an array.
int64_t IntegerOrFirst(const GgufFile& file, const std::string& key) {
  if (auto v = file.GetInteger<int64_t>(key); v.ok()) return *v;
  if (auto a = file.GetIntegerArray(key); a.ok() && !a->empty()) return a->front();
  return 0;
}

Result<ModelFacts> ReadFacts(const GgufFile& file) {
  ModelFacts facts;
  ASSIGN_OR_RETURN(std::string_view arch, file.GetString("general.architecture"));
  facts.arch = std::string(arch);
  facts.n_layer = IntegerOrFirst(file, facts.arch + ".block_count");
  facts.n_head = IntegerOrFirst(file, facts.arch + ".attention.head_count");
  facts.n_head_kv = IntegerOrFirst(file, facts.arch + ".attention.head_count_kv");
  if (facts.n_head_kv == 0) facts.n_head_kv = facts.n_head;
  facts.n_expert = IntegerOrFirst(file, facts.arch + ".expert_count");
  return facts;
}

// Converts one tensor chunk by chunk and appends the result to the writer.
// `data` holds t's bytes (its mapping, or a lazy tensor's decoded copy).
Status ConvertTensor(const GgufTensorInfo& t, const uint8_t* data, DType target, ThreadPool& pool,
                     GgufWriter& writer, std::vector<float>& f32, std::vector<uint8_t>& out,
                     const std::function<void(uint64_t)>& on_bytes_read) {
  const int64_t row = t.row_elements();
  const int64_t n_rows = t.n_rows();
  const size_t in_row_bytes = *RowBytes(t.type, row);
  const size_t out_row_bytes = *RowBytes(target, row);
  const int64_t chunk_rows = std::max<int64_t>(1, kChunkElements / row);
  const int64_t task_rows = std::max<int64_t>(1, kMinTaskElements / row);
  f32.resize(static_cast<size_t>(std::min(chunk_rows, n_rows) * row));  // {chunk_rows, row}
  out.resize(static_cast<size_t>(std::min(chunk_rows, n_rows)) * out_row_bytes);

  for (int64_t first = 0; first < n_rows; first += chunk_rows) {
    const int64_t rows = std::min(chunk_rows, n_rows - first);
    const int64_t n_tasks = (rows + task_rows - 1) / task_rows;
    pool.ParallelFor(n_tasks, [&](int64_t task, int /*thread*/) {
      const int64_t r0 = task * task_rows;
      const int64_t r1 = std::min(rows, r0 + task_rows);
      const uint8_t* src = data + static_cast<size_t>(first + r0) * in_row_bytes;
      float* rows_f32 = f32.data() + r0 * row;
      // Elementwise conversions are exact, so every source type goes through F32 first.
      kernels::DequantizeRow(t.type, src, rows_f32, (r1 - r0) * row);
      kernels::QuantizeRows(target, rows_f32, out.data() + static_cast<size_t>(r0) * out_row_bytes,
                            r1 - r0, row);
    });
    RETURN_IF_ERROR(
        writer.AppendTensorData({out.data(), static_cast<size_t>(rows) * out_row_bytes}));
    on_bytes_read(static_cast<uint64_t>(rows) * in_row_bytes);
  }
  return Status::Ok();
}

}  // namespace

Result<QuantizeModelStats> QuantizeModel(const QuantizeModelOptions& options) {
  CHECK(options.mix != nullptr);
  const auto start = std::chrono::steady_clock::now();
  if (!options.dry_run && options.output_image == nullptr &&
      SameFile(options.input, options.output)) {
    return ErrorStatus("the output " + options.output + " is the input file");
  }
  std::optional<GgufFile> opened;
  if (options.input_file == nullptr) {
    ASSIGN_OR_RETURN(GgufFile input, OpenGgufModel(options.input));
    opened.emplace(std::move(input));
  }
  const GgufFile& file = options.input_file != nullptr ? *options.input_file : *opened;
  ASSIGN_OR_RETURN(ModelFacts facts, ReadFacts(file));

  std::vector<TensorToPlan> to_plan;
  to_plan.reserve(file.tensors().size());
  for (const GgufTensorInfo& t : file.tensors()) {
    to_plan.push_back({std::string(t.name), t.type, {t.dims.begin(), t.dims.begin() + t.n_dims}});
  }
  QuantPlanOptions plan_options;
  plan_options.mix = options.mix;
  plan_options.pure = options.pure;
  plan_options.output_type = options.output_type;
  plan_options.token_embd_type = options.token_embd_type;
  ASSIGN_OR_RETURN(std::vector<PlannedTensor> plan, PlanQuantization(to_plan, facts, plan_options));

  // Refuse what cannot be converted before writing anything.
  QuantizeModelStats stats;
  for (const PlannedTensor& p : plan) {
    const GgufTensorInfo& t = file.tensors()[p.index];
    stats.n_elements += t.n_elements;
    stats.input_bytes += t.n_bytes;
    stats.output_bytes += *RowBytes(p.target, t.row_elements()) * t.n_rows();
    if (p.fell_back) ++stats.n_fallback;
    if (p.target == t.type) continue;
    const std::string what = "tensor '" + std::string(t.name) + "' (" +
                             std::string(DTypeName(t.type)) + " -> " +
                             std::string(DTypeName(p.target)) + ")";
    if (!kernels::CanQuantize(p.target)) {
      return ErrorStatus(what + ": autarky cannot produce " + std::string(DTypeName(p.target)));
    }
    if (!kernels::CanDequantize(t.type)) {
      return ErrorStatus(what + ": autarky cannot read " + std::string(DTypeName(t.type)));
    }
    const bool float_source =
        t.type == DType::kF32 || t.type == DType::kF16 || t.type == DType::kBF16;
    if (!float_source && !options.allow_requantize) {
      return ErrorStatus(what +
                         ": the input is already quantized; requantizing loses accuracy, "
                         "pass --allow-requantize to do it anyway");
    }
  }

  GgufWriter writer;
  writer.CopyMetadataFrom(file);
  writer.SetVersion(3);
  // As llama-quantize: drop split bookkeeping, then (re)append the quantization keys.
  for (const char* key : {"split.no", "split.count", "split.tensors.count",
                          "general.quantization_version", "general.file_type"}) {
    writer.Remove(key);
  }
  writer.Set("general.quantization_version", GgufValue::U32(kQuantizationVersion));
  writer.Set("general.file_type", GgufValue::U32(options.mix->file_type));
  for (const PlannedTensor& p : plan) {
    const GgufTensorInfo& t = file.tensors()[p.index];
    RETURN_IF_ERROR(writer.AddTensor(t.name, p.target, t.shape()));
  }

  ThreadPool pool(options.threads > 0 ? options.threads : ThreadPool::HardwareThreads());
  ProgressBar progress("quantize", stats.input_bytes, stderr);
  uint64_t bytes_done = 0;
  auto log = [&](const std::string& line) {
    if (!options.log_tensors) return;
    if (options.progress) {
      progress.Println(line);
    } else {
      std::fprintf(stderr, "%s\n", line.c_str());
    }
  };

  if (!options.dry_run) {
    RETURN_IF_ERROR(options.output_image != nullptr ? writer.BeginInMemory()
                                                    : writer.Begin(options.output));
  }
  int index = 0;
  std::vector<float> f32;        // {chunk_rows, row} of the tensor being converted
  std::vector<uint8_t> out;      // the same rows in the target type
  std::vector<uint8_t> scratch;  // a lazy tensor's decoded bytes, one tensor at a time
  for (const PlannedTensor& p : plan) {
    const GgufTensorInfo& t = file.tensors()[p.index];
    const size_t out_bytes = *RowBytes(p.target, t.row_elements()) * t.n_rows();
    char line[512];
    std::snprintf(line, sizeof line, "[%4d/%4zu] %-36s %-18s %6s -> %-6s %10s -> %10s%s", ++index,
                  plan.size(), std::string(t.name).c_str(), ShapeString(t).c_str(),
                  std::string(DTypeName(t.type)).c_str(), std::string(DTypeName(p.target)).c_str(),
                  ProgressBar::FormatBytes(t.n_bytes).c_str(),
                  ProgressBar::FormatBytes(out_bytes).c_str(),
                  p.fell_back ? "  (fallback: row length)" : "");
    log(line);
    // A lazy tensor (an FP8 folder's weights) is decoded here and freed after the tensor.
    std::span<const uint8_t> bytes;
    if (!options.dry_run) {
      ASSIGN_OR_RETURN(bytes, file.TensorBytes(t, &scratch));
    }
    if (p.target == t.type) {
      ++stats.n_copied;
      if (!options.dry_run) RETURN_IF_ERROR(writer.WriteTensor(t.name, bytes.data(), bytes.size()));
      bytes_done += t.n_bytes;
    } else {
      ++stats.n_converted;
      if (options.dry_run) {
        bytes_done += t.n_bytes;
      } else {
        RETURN_IF_ERROR(
            ConvertTensor(t, bytes.data(), p.target, pool, writer, f32, out, [&](uint64_t n) {
              bytes_done += n;
              if (options.progress) progress.Update(bytes_done, std::string(t.name));
            }));
      }
    }
    std::vector<uint8_t>().swap(scratch);
    if (options.progress) progress.Update(bytes_done, std::string(t.name));
  }
  if (!options.dry_run) RETURN_IF_ERROR(writer.Finish());
  if (!options.dry_run && options.output_image != nullptr)
    *options.output_image = writer.TakeBuffer();
  if (options.progress) progress.Finish();
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return stats;
}

}  // namespace autarky::tools

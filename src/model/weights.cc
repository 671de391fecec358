// Tensor lookup and validation for the model loaders.
#include "model/weights.h"

#include "kernels/kernel_table.h"
#include "kernels/quantize.h"

namespace autarky {
namespace {

std::string ShapeString(const GgufTensorInfo& t) {
  std::string s = "{";
  for (int d = 0; d < t.n_dims; ++d) {
    if (d > 0) s += ", ";
    s += std::to_string(t.dims[d]);
  }
  return s + "}";
}

Status TensorError(const GgufFile& file, const std::string& name, const std::string& what) {
  return ErrorStatus(file.name() + ": tensor '" + name + "': " + what);
}

}  // namespace

Result<kernels::WeightMatrix> LoadOptionalMatrix(const GgufFile& file, const std::string& name,
                                                 int64_t k, int64_t n_out) {
  const GgufTensorInfo* t = file.FindTensor(name);
  if (t == nullptr) return kernels::WeightMatrix{};
  if (t->n_dims != 2 || t->dims[0] != k || t->dims[1] != n_out) {
    return TensorError(file, name,
                       "shape " + ShapeString(*t) + ", expected {" + std::to_string(k) + ", " +
                           std::to_string(n_out) + "}");
  }
  const kernels::WeightKernels* kern = kernels::FindWeightKernels(t->type);
  if (kern == nullptr || !kernels::CanDequantize(t->type)) {
    return TensorError(file, name,
                       "type " + std::string(DTypeName(t->type)) + " is not supported for weights");
  }
  if (k % Traits(t->type).block_elems != 0 || k % Traits(kern->act_type).block_elems != 0) {
    return TensorError(file, name,
                       "row length " + std::to_string(k) + " is not a whole number of " +
                           std::string(DTypeName(t->type)) + " blocks");
  }
  kernels::WeightMatrix w;
  w.type = t->type;
  w.data = t->data;
  w.k = k;
  w.n_out = n_out;
  w.row_stride = *RowBytes(t->type, k);
  return w;
}

Result<kernels::WeightMatrix> LoadMatrix(const GgufFile& file, const std::string& name,
                                         int64_t k, int64_t n_out) {
  if (file.FindTensor(name) == nullptr) return TensorError(file, name, "missing");
  return LoadOptionalMatrix(file, name, k, n_out);
}

Result<std::vector<float>> LoadOptionalVector(const GgufFile& file, const std::string& name,
                                              int64_t n) {
  const GgufTensorInfo* t = file.FindTensor(name);
  if (t == nullptr) return std::vector<float>{};
  if (t->n_elements != n || t->dims[0] != n) {
    return TensorError(file, name, "shape " + ShapeString(*t) + ", expected {" +
                                       std::to_string(n) + "}");
  }
  if (!kernels::CanDequantize(t->type) || n % Traits(t->type).block_elems != 0) {
    return TensorError(file, name, "type " + std::string(DTypeName(t->type)) +
                                       " is not supported for a vector");
  }
  std::vector<float> out(n);
  kernels::DequantizeRow(t->type, t->data, out.data(), n);
  return out;
}

Result<std::vector<float>> LoadVector(const GgufFile& file, const std::string& name, int64_t n) {
  if (file.FindTensor(name) == nullptr) return TensorError(file, name, "missing");
  return LoadOptionalVector(file, name, n);
}

void DequantizeMatrixRow(const kernels::WeightMatrix& w, int64_t row, float* out) {
  kernels::DequantizeRow(w.type, static_cast<const uint8_t*>(w.data) + row * w.row_stride, out,
                         w.k);
}

}  // namespace autarky

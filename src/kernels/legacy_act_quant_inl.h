// The Q8_0 / Q8_1 activation quantizers of the legacy SIMD files, built on each file's
// one-block quantizer. Include INSIDE the anonymous namespace of a SIMD file that defines
//   uint16_t QuantizeBlock(const float* x, int8_t* q, int32_t* sum);  // F16 scale; sum of q
// (see gemm_tiling_inl.h for why these templates must not be shared across files).

// Blocks are assembled locally and copied out: `y` may have any alignment.
void QuantizeActQ8_0(const float* x, void* y, int64_t k) {
  auto* out = static_cast<uint8_t*>(y);
  int32_t sum;
  for (int64_t b = 0; b < k / kQK; ++b) {
    BlockQ8_0 block;
    block.d = QuantizeBlock(x + b * kQK, block.qs, &sum);
    std::memcpy(out + b * sizeof block, &block, sizeof block);
  }
}

void QuantizeActQ8_1(const float* x, void* y, int64_t k) {
  auto* out = static_cast<uint8_t*>(y);
  int32_t sum;
  for (int64_t b = 0; b < k / kQK; ++b) {
    BlockQ8_1 block;
    block.d = QuantizeBlock(x + b * kQK, block.qs, &sum);
    block.s = Fp32ToFp16(Fp16ToFp32(block.d) * static_cast<float>(sum));
    std::memcpy(out + b * sizeof block, &block, sizeof block);
  }
}

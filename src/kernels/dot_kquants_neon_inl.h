// K-quant x Q8_K kernels for AArch64 NEON, included twice by dot_kquants_neon.cc: once for
// baseline Advanced SIMD (AUTARKY_KQ_DOTPROD 0: vmull_s8 + pairwise adds) and once, compiled for
// the dot-product extension, with AUTARKY_KQ_DOTPROD 1 (vdotq_s32), each time inside its own
// namespace. No include guard on purpose.
//
// A super-block is unpacked once into 16 vectors of 16 quants (group g = elements 16g .. 16g+15),
// a scale per group and 16 multipliers of the Q8_K bsums (mins, or -offset * scale); the block
// value is y.d * (d * I - dmin * M) for types with mins, y.d * d * (I + M) for offset types,
// with I = sum(scale * group dot) and M = sum(corr * bsums). Quants are unsigned except IQ4_XS,
// whose signed grid values go straight into the signed products.

// Dot products of 16 int8 pairs, as 4 int32 partial sums.
static inline int32x4_t GroupDot(int8x16_t q, int8x16_t y) {
#if AUTARKY_KQ_DOTPROD
  return vdotq_s32(vdupq_n_s32(0), q, y);
#else
  // |q * y| <= 127 * 128, and a pair of them fits int16: 2 * 127 * 128 < 2^15.
  const int16x8_t products = vmlal_high_s8(vmull_s8(vget_low_s8(q), vget_low_s8(y)), q, y);
  return vpaddlq_s16(products);
#endif
}

struct Unpacked {
  int8x16_t q[16];  // {16 groups}{16 quants}
  int32_t scale[16];
  int16_t corr[16];
  float d;
  float dmin;
};

static inline uint8x16_t Low4(uint8x16_t v) { return vandq_u8(v, vdupq_n_u8(0x0f)); }
static inline uint8x16_t High4(uint8x16_t v) { return vshrq_n_u8(v, 4); }
static inline int8x16_t AsS8(uint8x16_t v) { return vreinterpretq_s8_u8(v); }
static inline float HalfToFloat(const uint8_t* p) { return Fp16ToFp32(LoadU16(p)); }

// Q4_K and Q5_K: scales and mins per 32-element sub-block; per 64 elements, 32 qs bytes hold
// elements 0-31 in their low nibbles and 32-63 in their high nibbles.
static inline void UnpackQ4KCommon(const uint8_t* scales, const uint8_t* qs, Unpacked& u) {
  uint32_t words[4];
  UnpackQ4KScaleMins(scales, words);
  uint8_t scale_mins[16];
  __builtin_memcpy(scale_mins, words, sizeof scale_mins);
  for (int g = 0; g < 16; ++g) {
    u.scale[g] = scale_mins[g / 2];
    u.corr[g] = scale_mins[8 + g / 2];
  }
  for (int j = 0; j < 4; ++j) {
    const uint8x16_t a = vld1q_u8(qs + 32 * j), b = vld1q_u8(qs + 32 * j + 16);
    u.q[4 * j] = AsS8(Low4(a));
    u.q[4 * j + 1] = AsS8(Low4(b));
    u.q[4 * j + 2] = AsS8(High4(a));
    u.q[4 * j + 3] = AsS8(High4(b));
  }
}

struct Q4K {
  static constexpr size_t kBlockBytes = sizeof(BlockQ4_K);
  static constexpr bool kMins = true, kCorr = true;
  static void Unpack(const uint8_t* b, Unpacked& u) {
    UnpackQ4KCommon(b + offsetof(BlockQ4_K, scales), b + offsetof(BlockQ4_K, qs), u);
    u.d = HalfToFloat(b + offsetof(BlockQ4_K, d));
    u.dmin = HalfToFloat(b + offsetof(BlockQ4_K, dmin));
  }
};

struct Q5K {
  static constexpr size_t kBlockBytes = sizeof(BlockQ5_K);
  static constexpr bool kMins = true, kCorr = true;
  static void Unpack(const uint8_t* b, Unpacked& u) {
    UnpackQ4KCommon(b + offsetof(BlockQ5_K, scales), b + offsetof(BlockQ5_K, qs), u);
    // The fifth bit of element e is bit e / 32 of qh[e % 32].
    const uint8_t* qh_bytes = b + offsetof(BlockQ5_K, qh);
    const uint8x16_t qh[2] = {vld1q_u8(qh_bytes), vld1q_u8(qh_bytes + 16)};
    for (int g = 0; g < 16; ++g) {
      const uint8x16_t set = vtstq_u8(qh[g % 2], vdupq_n_u8(static_cast<uint8_t>(1u << (g / 2))));
      u.q[g] = vorrq_s8(u.q[g], AsS8(vandq_u8(set, vdupq_n_u8(0x10))));
    }
    u.d = HalfToFloat(b + offsetof(BlockQ5_K, d));
    u.dmin = HalfToFloat(b + offsetof(BlockQ5_K, dmin));
  }
};

struct Q6K {
  static constexpr size_t kBlockBytes = sizeof(BlockQ6_K);
  static constexpr bool kMins = false, kCorr = true;
  static void Unpack(const uint8_t* b, Unpacked& u) {
    const uint8_t* ql = b + offsetof(BlockQ6_K, ql);
    const uint8_t* qh = b + offsetof(BlockQ6_K, qh);
    const uint8x16_t bits45 = vdupq_n_u8(0x30);
    for (int half = 0; half < 2; ++half) {
      for (int k = 0; k < 2; ++k) {  // the two 16-byte halves of each 32-byte row
        const uint8x16_t la = vld1q_u8(ql + 64 * half + 16 * k);
        const uint8x16_t lb = vld1q_u8(ql + 64 * half + 32 + 16 * k);
        const uint8x16_t h = vld1q_u8(qh + 32 * half + 16 * k);
        // Groups of this half: elements l (low nibble of la, qh bits 0-1), l + 32 (lb, bits 2-3),
        // l + 64 (high nibble of la, bits 4-5), l + 96 (lb, bits 6-7).
        int8x16_t* q = u.q + 8 * half + k;
        q[0] = AsS8(vorrq_u8(Low4(la), vandq_u8(vshlq_n_u8(h, 4), bits45)));
        q[2] = AsS8(vorrq_u8(Low4(lb), vandq_u8(vshlq_n_u8(h, 2), bits45)));
        q[4] = AsS8(vorrq_u8(High4(la), vandq_u8(h, bits45)));
        q[6] = AsS8(vorrq_u8(High4(lb), vandq_u8(vshrq_n_u8(h, 2), bits45)));
      }
    }
    const auto* scales = reinterpret_cast<const int8_t*>(b + offsetof(BlockQ6_K, scales));
    for (int g = 0; g < 16; ++g) {
      u.scale[g] = scales[g];
      u.corr[g] = static_cast<int16_t>(-32 * scales[g]);  // quants are stored with bias 32
    }
    u.d = HalfToFloat(b + offsetof(BlockQ6_K, d));
    u.dmin = 0.0f;
  }
};

// Q2_K and Q3_K: group g takes bit pair (g / 2) % 4 of qs bytes 32 * (g / 8) + 16 * (g % 2) + l.
static inline uint8x16_t TwoBits(const uint8_t* qs, int g) {
  const uint8x16_t v = vld1q_u8(qs + 32 * (g / 8) + 16 * (g % 2));
  const int8x16_t shift = vdupq_n_s8(static_cast<int8_t>(-2 * ((g / 2) % 4)));
  return vandq_u8(vshlq_u8(v, shift), vdupq_n_u8(0x03));
}

struct Q3K {
  static constexpr size_t kBlockBytes = sizeof(BlockQ3_K);
  static constexpr bool kMins = false, kCorr = true;
  static void Unpack(const uint8_t* b, Unpacked& u) {
    const uint8_t* qs = b + offsetof(BlockQ3_K, qs);
    const uint8_t* hm = b + offsetof(BlockQ3_K, hmask);
    const uint8x16_t hmask[2] = {vld1q_u8(hm), vld1q_u8(hm + 16)};
    // Quant = q2 + 4 * hbit - 4 (hbit: bit e / 32 of hmask[e % 32]); the -4 through the bsums.
    for (int g = 0; g < 16; ++g) {
      const uint8x16_t set =
          vtstq_u8(hmask[g % 2], vdupq_n_u8(static_cast<uint8_t>(1u << (g / 2))));
      u.q[g] = AsS8(vorrq_u8(TwoBits(qs, g), vandq_u8(set, vdupq_n_u8(0x04))));
    }
    uint32_t words[4];
    UnpackQ3KScales(b + offsetof(BlockQ3_K, scales), words);
    uint8_t scales[16];
    __builtin_memcpy(scales, words, sizeof scales);
    for (int g = 0; g < 16; ++g) {
      u.scale[g] = scales[g] - 32;
      u.corr[g] = static_cast<int16_t>(-4 * u.scale[g]);
    }
    u.d = HalfToFloat(b + offsetof(BlockQ3_K, d));
    u.dmin = 0.0f;
  }
};

struct Q2K {
  static constexpr size_t kBlockBytes = sizeof(BlockQ2_K);
  static constexpr bool kMins = true, kCorr = true;
  static void Unpack(const uint8_t* b, Unpacked& u) {
    const uint8_t* qs = b + offsetof(BlockQ2_K, qs);
    for (int g = 0; g < 16; ++g) u.q[g] = AsS8(TwoBits(qs, g));
    const uint8_t* scales = b + offsetof(BlockQ2_K, scales);
    for (int g = 0; g < 16; ++g) {
      u.scale[g] = scales[g] & 0x0f;
      u.corr[g] = static_cast<int16_t>(scales[g] >> 4);
    }
    u.d = HalfToFloat(b + offsetof(BlockQ2_K, d));
    u.dmin = HalfToFloat(b + offsetof(BlockQ2_K, dmin));
  }
};

struct IQ4XS {
  static constexpr size_t kBlockBytes = sizeof(BlockIQ4_XS);
  static constexpr bool kMins = false, kCorr = false;
  static void Unpack(const uint8_t* b, Unpacked& u) {
    // Element by element: taking the address of kIq4nlValues would emit a shared (weak) copy.
    const int8x16_t grid = {kIq4nlValues[0],  kIq4nlValues[1],  kIq4nlValues[2],  kIq4nlValues[3],
                            kIq4nlValues[4],  kIq4nlValues[5],  kIq4nlValues[6],  kIq4nlValues[7],
                            kIq4nlValues[8],  kIq4nlValues[9],  kIq4nlValues[10], kIq4nlValues[11],
                            kIq4nlValues[12], kIq4nlValues[13], kIq4nlValues[14], kIq4nlValues[15]};
    const uint8_t* qs = b + offsetof(BlockIQ4_XS, qs);
    for (int j = 0; j < 8; ++j) {
      // Sub-block j: 16 bytes, elements 0-15 in the low nibbles, 16-31 in the high ones.
      const uint8x16_t v = vld1q_u8(qs + 16 * j);
      u.q[2 * j] = vqtbl1q_s8(grid, Low4(v));
      u.q[2 * j + 1] = vqtbl1q_s8(grid, High4(v));
    }
    const uint8_t* low = b + offsetof(BlockIQ4_XS, scales_l);
    const uint32_t high = LoadU16(b + offsetof(BlockIQ4_XS, scales_h));
    for (int g = 0; g < 16; ++g) {
      const int j = g / 2;
      const int ls = ((low[j / 2] >> (4 * (j % 2))) & 0x0f) | (((high >> (2 * j)) & 3) << 4);
      u.scale[g] = ls - 32;
      u.corr[g] = 0;
    }
    u.d = HalfToFloat(b + offsetof(BlockIQ4_XS, d));
    u.dmin = 0.0f;
  }
};

template <class T>
static inline void AccumulateBlock(const Unpacked& u, const uint8_t* y, float32x4_t& acc,
                                   float32x4_t& acc_min) {
  const int8_t* yq = reinterpret_cast<const int8_t*>(y + offsetof(BlockQ8_K, qs));
  int32x4_t sum = vdupq_n_s32(0);
  for (int g = 0; g < 16; ++g) {
    sum = vmlaq_n_s32(sum, GroupDot(u.q[g], vld1q_s8(yq + 16 * g)), u.scale[g]);
  }
  const float yd = LoadF32(y + offsetof(BlockQ8_K, d));
  if constexpr (T::kCorr) {
    // Byte loads: the activation row may sit at any address.
    const uint8_t* bsums = y + offsetof(BlockQ8_K, bsums);
    const int16x8_t b0 = vreinterpretq_s16_u8(vld1q_u8(bsums));
    const int16x8_t b1 = vreinterpretq_s16_u8(vld1q_u8(bsums + 16));
    const int16x8_t c0 = vld1q_s16(u.corr), c1 = vld1q_s16(u.corr + 8);
    int32x4_t corr = vmull_s16(vget_low_s16(b0), vget_low_s16(c0));
    corr = vmlal_high_s16(corr, b0, c0);
    corr = vmlal_s16(corr, vget_low_s16(b1), vget_low_s16(c1));
    corr = vmlal_high_s16(corr, b1, c1);
    if constexpr (T::kMins) {
      acc_min = vfmaq_n_f32(acc_min, vcvtq_f32_s32(corr), yd * u.dmin);
    } else {
      sum = vaddq_s32(sum, corr);
    }
  }
  acc = vfmaq_n_f32(acc, vcvtq_f32_s32(sum), yd * u.d);
}

template <class T, int kNc>
void RowTimesColumns(int64_t nb, const uint8_t* w, const uint8_t* a, size_t a_stride, float* out,
                     size_t out_stride) {
  float32x4_t acc[kNc], acc_min[kNc];
  for (int c = 0; c < kNc; ++c) acc[c] = acc_min[c] = vdupq_n_f32(0.0f);
  for (int64_t b = 0; b < nb; ++b) {
    Unpacked u;
    T::Unpack(w + b * T::kBlockBytes, u);
    const uint8_t* y = a + b * sizeof(BlockQ8_K);
    for (int c = 0; c < kNc; ++c) AccumulateBlock<T>(u, y + c * a_stride, acc[c], acc_min[c]);
  }
  for (int c = 0; c < kNc; ++c) out[c * out_stride] = vaddvq_f32(vsubq_f32(acc[c], acc_min[c]));
}

template <class T>
float VecDot(int64_t k, const void* w, const void* a) {
  DCHECK(k % kQK_K == 0);
  float result;
  RowTimesColumns<T, 1>(k / kQK_K, static_cast<const uint8_t*>(w), static_cast<const uint8_t*>(a),
                        0, &result, 0);
  return result;
}

template <class T, int kNc>
void RowsTimesColumns(int64_t nb, const uint8_t* w, size_t w_stride, int nr, const uint8_t* a,
                      size_t a_stride, float* out, size_t out_stride) {
  for (int r = 0; r < nr; ++r) {
    RowTimesColumns<T, kNc>(nb, w + r * w_stride, a, a_stride, out + r, out_stride);
  }
}

// Columns in tiles of at most 4 (the unpacked block takes half the register file), as even as
// possible.
template <class T>
void Gemm(int64_t k, const void* w, size_t w_stride, int nr, const void* a, size_t a_stride, int nc,
          float* out, size_t out_stride) {
  DCHECK(k % kQK_K == 0);
  constexpr int kMaxColumns = 4;
  const int64_t nb = k / kQK_K;
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* ab = static_cast<const uint8_t*>(a);
  const int tiles = (nc + kMaxColumns - 1) / kMaxColumns;
  int c0 = 0;
  for (int t = 0; t < tiles; ++t) {
    const int width = (nc - c0 + (tiles - t) - 1) / (tiles - t);
    const uint8_t* at = ab + c0 * a_stride;
    float* ot = out + c0 * out_stride;
    switch (width) {
      case 1:
        RowsTimesColumns<T, 1>(nb, wb, w_stride, nr, at, a_stride, ot, out_stride);
        break;
      case 2:
        RowsTimesColumns<T, 2>(nb, wb, w_stride, nr, at, a_stride, ot, out_stride);
        break;
      case 3:
        RowsTimesColumns<T, 3>(nb, wb, w_stride, nr, at, a_stride, ot, out_stride);
        break;
      default:
        RowsTimesColumns<T, 4>(nb, wb, w_stride, nr, at, a_stride, ot, out_stride);
        break;
    }
    c0 += width;
  }
}

template <class T>
WeightKernels Entry() {
  return WeightKernels{DType::kQ8_K, QuantizeActQ8KNeon, VecDot<T>, Gemm<T>};
}

// Writes the entries directly: KernelRegistry::Set is an inline member, which an unoptimized
// build would emit here as a shared (weak) copy.
void Register(KernelRegistry& registry) {
  registry.entries[static_cast<uint32_t>(DType::kQ2_K)] = Entry<Q2K>();
  registry.entries[static_cast<uint32_t>(DType::kQ3_K)] = Entry<Q3K>();
  registry.entries[static_cast<uint32_t>(DType::kQ4_K)] = Entry<Q4K>();
  registry.entries[static_cast<uint32_t>(DType::kQ5_K)] = Entry<Q5K>();
  registry.entries[static_cast<uint32_t>(DType::kQ6_K)] = Entry<Q6K>();
  registry.entries[static_cast<uint32_t>(DType::kIQ4_XS)] = Entry<IQ4XS>();
}

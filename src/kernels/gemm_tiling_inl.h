// The row x column tiling that turns a register-tile kernel into a full gemm, shared by the
// SIMD translation units. Include it INSIDE the anonymous namespace of a SIMD file, after that
// file defines
//   constexpr int kTileRows, kTileCols;   // its largest tile
//   template <typename K, int R, int C>   // R <= kTileRows rows x C <= kTileCols columns
//   void Tile(int64_t units, const uint8_t* w, size_t w_stride, const uint8_t* a,
//             size_t a_stride, float* out, size_t out_stride);
// so that every instantiation gets internal linkage and that file's instruction set (a shared
// out-of-line copy could be compiled for the wrong ISA; see scripts/check-isa-objects).
// `units` is whatever Tile counts along k (elements or blocks).

// Runs the tile of R rows x C columns when C == nc, else tries C - 1 (nc < kTileCols).
template <typename K, int R, int C>
[[gnu::always_inline]] static inline void TileColumnsLeft(int nc, int64_t units, const uint8_t* w,
                                                          size_t w_stride, const uint8_t* a,
                                                          size_t a_stride, float* out,
                                                          size_t out_stride) {
  if constexpr (C > 0) {
    if (nc == C) {
      Tile<K, R, C>(units, w, w_stride, a, a_stride, out, out_stride);
    } else {
      TileColumnsLeft<K, R, C - 1>(nc, units, w, w_stride, a, a_stride, out, out_stride);
    }
  }
}

// Runs the tiles of `R` rows for columns [0, nc) in steps of kTileCols.
template <typename K, int R>
void TileRowBand(int64_t units, const uint8_t* w, size_t w_stride, const uint8_t* a,
                 size_t a_stride, int nc, float* out, size_t out_stride) {
  int c = 0;
  for (; c + kTileCols <= nc; c += kTileCols) {
    Tile<K, R, kTileCols>(units, w, w_stride, a + c * a_stride, a_stride, out + c * out_stride,
                          out_stride);
  }
  TileColumnsLeft<K, R, kTileCols - 1>(nc - c, units, w, w_stride, a + c * a_stride, a_stride,
                                       out + c * out_stride, out_stride);
}

// out[c * out_stride + r] for nr weight rows x nc activation rows (kernel_table.h's GemmFn),
// in bands of kTileRows rows and then single rows. One column (decode) goes row after row: the
// weights then stream sequentially, which DRAM needs (interleaved rows defeat the prefetcher).
template <typename K>
void GemmByTiles(int64_t units, const void* w, size_t w_stride, int nr, const void* a,
                 size_t a_stride, int nc, float* out, size_t out_stride) {
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* ab = static_cast<const uint8_t*>(a);
  int r = 0;
  for (; nc > 1 && r + kTileRows <= nr; r += kTileRows) {
    TileRowBand<K, kTileRows>(units, wb + r * w_stride, w_stride, ab, a_stride, nc, out + r,
                              out_stride);
  }
  for (; r < nr; ++r) {
    TileRowBand<K, 1>(units, wb + r * w_stride, w_stride, ab, a_stride, nc, out + r, out_stride);
  }
}

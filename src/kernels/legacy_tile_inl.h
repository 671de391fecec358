// The walk over a row x column tile of legacy (32-weight) blocks, kGroup blocks at a time
// with a zero-padded tail, shared by the x86 legacy SIMD files. Include INSIDE the anonymous
// namespace of a SIMD file that defines kGroup, the accumulator type `Acc` with AccZero() and
// HorizontalSum(Acc), and
//   template <typename K, int R, int C>
//   void Group(const Block* const* w, const Act* const* a, Acc (&acc)[R][C]);  // kGroup blocks
// (see gemm_tiling_inl.h for why these templates must not be shared across files).

// Full dot products of an R x C tile: rows w + r * w_stride, columns a + c * a_stride.
template <typename K, int R, int C>
void Tile(int64_t nb, const uint8_t* w, size_t w_stride, const uint8_t* a, size_t a_stride,
          float* out, size_t out_stride) {
  using Block = typename K::Block;
  using Act = typename K::Act;
  Acc acc[R][C];
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) acc[r][c] = AccZero();
  }
  const Block* wp[R];
  const Act* ap[C];
  for (int r = 0; r < R; ++r) wp[r] = reinterpret_cast<const Block*>(w + r * w_stride);
  for (int c = 0; c < C; ++c) ap[c] = reinterpret_cast<const Act*>(a + c * a_stride);
  const int64_t full = nb / kGroup * kGroup;
  for (int64_t b = 0; b < full; b += kGroup) {
    Group<K, R, C>(wp, ap, acc);
    for (int r = 0; r < R; ++r) wp[r] += kGroup;
    for (int c = 0; c < C; ++c) ap[c] += kGroup;
  }
  if (const int rest = static_cast<int>(nb - full); rest != 0) {
    // The last 1-3 blocks, padded with zero blocks (scale 0, quants 0: they add nothing).
    Block w_pad[R][kGroup];
    Act a_pad[C][kGroup];
    std::memset(w_pad, 0, sizeof w_pad);
    std::memset(a_pad, 0, sizeof a_pad);
    for (int r = 0; r < R; ++r) {
      std::memcpy(w_pad[r], wp[r], rest * sizeof(Block));
      wp[r] = w_pad[r];
    }
    for (int c = 0; c < C; ++c) {
      std::memcpy(a_pad[c], ap[c], rest * sizeof(Act));
      ap[c] = a_pad[c];
    }
    Group<K, R, C>(wp, ap, acc);
  }
  for (int c = 0; c < C; ++c) {
    for (int r = 0; r < R; ++r) out[c * out_stride + r] = HorizontalSum(acc[r][c]);
  }
}

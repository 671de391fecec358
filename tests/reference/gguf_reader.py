"""Minimal GGUF reader for the reference scripts: metadata and F32/F16/BF16 tensors as numpy.

Written from the GGUF specification (ggml's docs/gguf.md), independent of autarky's C++
reader, so that the PyTorch reference does not share its misunderstandings. Only what the
reference needs: every metadata type, and tensor data of the float types (quantized models are
compared after `autarky quantize ... F32` has dequantized them).

Usage:
    gguf = GgufFile("model.gguf")
    gguf.metadata["llama.block_count"]          # python int / float / str / bool / list
    w = gguf.tensor("blk.0.attn_q.weight")     # numpy float32, shape = reversed ggml dims
"""

import struct

import numpy as np

GGUF_MAGIC = b"GGUF"
DEFAULT_ALIGNMENT = 32

# Metadata value types (the spec's gguf_metadata_value_type).
_SCALARS = {
    0: ("<B", 1),  # u8
    1: ("<b", 1),  # i8
    2: ("<H", 2),  # u16
    3: ("<h", 2),  # i16
    4: ("<I", 4),  # u32
    5: ("<i", 4),  # i32
    6: ("<f", 4),  # f32
    7: ("<?", 1),  # bool
    10: ("<Q", 8),  # u64
    11: ("<q", 8),  # i64
    12: ("<d", 8),  # f64
}
_STRING = 8
_ARRAY = 9

# Tensor types this reader decodes (ggml_type ids) and their element sizes.
F32, F16, BF16 = 0, 1, 30
_FLOAT_TYPES = {F32: 4, F16: 2, BF16: 2}


class GgufError(Exception):
    pass


class _Cursor:
    def __init__(self, data, path):
        self.data = data
        self.pos = 0
        self.path = path

    def take(self, n):
        if self.pos + n > len(self.data):
            raise GgufError(f"{self.path}: truncated at byte {self.pos} (need {n} more bytes)")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def scalar(self, fmt, size):
        return struct.unpack(fmt, self.take(size))[0]

    def string(self):
        n = self.scalar("<Q", 8)
        return bytes(self.take(n)).decode("utf-8", errors="surrogateescape")

    def value(self, vtype):
        if vtype in _SCALARS:
            return self.scalar(*_SCALARS[vtype])
        if vtype == _STRING:
            return self.string()
        if vtype == _ARRAY:
            etype = self.scalar("<I", 4)
            count = self.scalar("<Q", 8)
            if etype in _SCALARS:
                fmt, size = _SCALARS[etype]
                raw = self.take(size * count)
                return list(np.frombuffer(raw, dtype=np.dtype(fmt)).tolist())
            return [self.value(etype) for _ in range(count)]
        raise GgufError(f"{self.path}: byte {self.pos}: unknown metadata type {vtype}")


class TensorInfo:
    def __init__(self, name, dims, ggml_type, offset):
        self.name = name
        self.dims = dims  # ggml order: dims[0] is contiguous
        self.type = ggml_type
        self.offset = offset  # relative to the data section


class GgufFile:
    def __init__(self, path):
        self.path = path
        with open(path, "rb") as f:
            self._data = f.read()
        cur = _Cursor(memoryview(self._data), path)
        if bytes(cur.take(4)) != GGUF_MAGIC:
            raise GgufError(f"{path}: not a GGUF file")
        self.version = cur.scalar("<I", 4)
        if self.version not in (2, 3):
            raise GgufError(f"{path}: GGUF version {self.version} is not supported")
        n_tensors = cur.scalar("<Q", 8)
        n_kv = cur.scalar("<Q", 8)
        self.metadata = {}
        for _ in range(n_kv):
            key = cur.string()
            self.metadata[key] = cur.value(cur.scalar("<I", 4))
        self.tensors = {}
        for _ in range(n_tensors):
            name = cur.string()
            n_dims = cur.scalar("<I", 4)
            dims = [cur.scalar("<Q", 8) for _ in range(n_dims)]
            ggml_type = cur.scalar("<I", 4)
            offset = cur.scalar("<Q", 8)
            self.tensors[name] = TensorInfo(name, dims, ggml_type, offset)
        alignment = self.metadata.get("general.alignment", DEFAULT_ALIGNMENT)
        self.data_offset = (cur.pos + alignment - 1) // alignment * alignment

    def get(self, key, default=None):
        return self.metadata.get(key, default)

    def has_tensor(self, name):
        return name in self.tensors

    def tensor(self, name):
        """The tensor as float32, numpy shape = reversed ggml dims ({k, n} -> (n, k))."""
        info = self.tensors.get(name)
        if info is None:
            raise GgufError(f"{self.path}: no tensor '{name}'")
        if info.type not in _FLOAT_TYPES:
            raise GgufError(
                f"{self.path}: tensor '{name}' has ggml type {info.type}; this reader decodes "
                "F32, F16 and BF16 only (dequantize with `autarky quantize --allow-requantize "
                "IN OUT F32` first)")
        count = int(np.prod(info.dims))
        start = self.data_offset + info.offset
        end = start + count * _FLOAT_TYPES[info.type]
        if end > len(self._data):
            raise GgufError(f"{self.path}: tensor '{name}' extends past the end of the file")
        raw = self._data[start:end]
        if info.type == F32:
            values = np.frombuffer(raw, dtype="<f4").astype(np.float32)
        elif info.type == F16:
            values = np.frombuffer(raw, dtype="<f2").astype(np.float32)
        else:  # BF16: the high half of a float32
            values = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        return values.reshape(list(reversed(info.dims)))

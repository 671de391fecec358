// GgufWriter: layout, validation and streaming output (temporary file + rename) of GGUF files.
#include "io/gguf_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>

#include "io/gguf_reader.h"
#include "util/check.h"

namespace autarky {
namespace {

uint64_t AlignUp(uint64_t n, uint64_t alignment) {
  return (n + alignment - 1) / alignment * alignment;
}

void AppendBytes(std::string* out, const void* data, size_t size) {
  out->append(static_cast<const char*>(data), size);
}
template <typename T>
void AppendFixed(std::string* out, T value) {
  AppendBytes(out, &value, sizeof(T));
}
void AppendString(std::string* out, std::string_view s) {
  AppendFixed<uint64_t>(out, s.size());
  out->append(s);
}

void AppendValue(std::string* out, const GgufValue& value) {
  switch (value.type()) {
    case GgufType::kString:
      AppendString(out, value.str());
      return;
    case GgufType::kArray: {
      AppendFixed<uint32_t>(out, static_cast<uint32_t>(value.element_type()));
      AppendFixed<uint64_t>(out, value.size());
      if (value.element_type() == GgufType::kString) {
        for (std::string_view s : value.strings()) AppendString(out, s);
      } else if (value.element_type() == GgufType::kArray) {
        for (const GgufValue& item : value.items()) AppendValue(out, item);
      } else {
        out->append(value.raw_bytes());
      }
      return;
    }
    default: {
      const uint64_t bits = value.scalar_bits();  // little-endian: the low bytes come first
      AppendBytes(out, &bits, GgufTypeSize(value.type()));
      return;
    }
  }
}

// Checks a value against the reader's limits, so that whatever is written can be read back.
std::string ValueProblem(const GgufValue& value, int depth) {
  if (value.type() == GgufType::kString) {
    return value.str().size() > kGgufMaxStringBytes ? "a string is longer than the limit" : "";
  }
  if (!value.is_array()) return "";
  if (value.size() > kGgufMaxArrayElements) return "an array has more elements than the limit";
  if (value.element_type() == GgufType::kString) {
    for (std::string_view s : value.strings()) {
      if (s.size() > kGgufMaxStringBytes) return "a string is longer than the limit";
    }
  } else if (value.element_type() == GgufType::kArray) {
    if (depth + 1 >= kGgufMaxArrayDepth) {
      return "arrays are nested deeper than " + std::to_string(kGgufMaxArrayDepth);
    }
    for (const GgufValue& item : value.items()) {
      std::string problem = ValueProblem(item, depth + 1);
      if (!problem.empty()) return problem;
    }
  }
  return "";
}

uint64_t NestedElements(const GgufValue& value) {
  if (!value.is_array() || value.element_type() != GgufType::kArray) return 0;
  uint64_t total = value.size();
  for (const GgufValue& item : value.items()) total += NestedElements(item);
  return total;
}

}  // namespace

// Where the bytes go: a temporary file renamed at the end, or memory.
class GgufWriter::Sink {
 public:
  virtual ~Sink() = default;
  virtual Status Write(const void* data, size_t size) = 0;
  virtual Status Commit() = 0;
  virtual void Abandon() = 0;

  Status WriteZeros(uint64_t n) {
    static constexpr uint8_t kZeros[4096] = {};
    while (n > 0) {
      const size_t chunk = n < sizeof(kZeros) ? static_cast<size_t>(n) : sizeof(kZeros);
      RETURN_IF_ERROR(Write(kZeros, chunk));
      n -= chunk;
    }
    return Status::Ok();
  }
  uint64_t written() const { return written_; }

 protected:
  uint64_t written_ = 0;
};

namespace {

class FileSink final : public GgufWriter::Sink {
 public:
  static Result<std::unique_ptr<FileSink>> Create(const std::string& path) {
    static std::atomic<uint64_t> counter{0};
    auto sink = std::unique_ptr<FileSink>(new FileSink());
    sink->path_ = path;
    for (int attempt = 0; attempt < 100; ++attempt) {
      sink->temp_path_ =
          path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
      // 0666 masked by the umask: the permissions a plain new file would get.
      sink->fd_ = ::open(sink->temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      if (sink->fd_ >= 0) break;
      if (errno != EEXIST) {
        return ErrorStatus("cannot create " + sink->temp_path_ + ": " + std::strerror(errno));
      }
    }
    if (sink->fd_ < 0) return ErrorStatus("cannot create a temporary file next to " + path);
    sink->buffer_.reserve(kBufferBytes);
    return sink;
  }

  ~FileSink() override { Abandon(); }

  Status Write(const void* data, size_t size) override {
    written_ += size;
    const auto* p = static_cast<const uint8_t*>(data);
    if (buffer_.size() + size > kBufferBytes) {
      RETURN_IF_ERROR(Flush());
      if (size >= kBufferBytes) return WriteAll(p, size);  // large tensors skip the copy
    }
    buffer_.insert(buffer_.end(), p, p + size);
    return Status::Ok();
  }

  Status Commit() override {
    RETURN_IF_ERROR(Flush());
    // Data must be on disk before the rename makes it the file: a crash must leave either the
    // old file or the complete new one.
    if (::fsync(fd_) != 0) return Errno("cannot sync " + temp_path_);
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) return Errno("cannot close " + temp_path_);
    if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
      return Errno("cannot rename " + temp_path_ + " to " + path_);
    }
    temp_path_.clear();
    return Status::Ok();
  }

  void Abandon() override {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
    if (!temp_path_.empty()) {
      ::unlink(temp_path_.c_str());
      temp_path_.clear();
    }
  }

 private:
  static constexpr size_t kBufferBytes = size_t{4} << 20;
  FileSink() = default;

  Status Errno(const std::string& what) const {
    return ErrorStatus(what + ": " + std::strerror(errno));
  }

  Status Flush() {
    Status status = WriteAll(buffer_.data(), buffer_.size());
    buffer_.clear();
    return status;
  }

  Status WriteAll(const uint8_t* p, size_t size) {
    while (size > 0) {
      const ssize_t n = ::write(fd_, p, size);
      if (n < 0) {
        if (errno == EINTR) continue;
        return Errno("cannot write " + temp_path_);
      }
      p += n;
      size -= static_cast<size_t>(n);
    }
    return Status::Ok();
  }

  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
  std::vector<uint8_t> buffer_;
};

class MemorySink final : public GgufWriter::Sink {
 public:
  Status Write(const void* data, size_t size) override {
    const auto* p = static_cast<const uint8_t*>(data);
    bytes_.insert(bytes_.end(), p, p + size);
    written_ += size;
    return Status::Ok();
  }
  Status Commit() override { return Status::Ok(); }
  void Abandon() override { bytes_.clear(); }
  std::vector<uint8_t> Take() { return std::move(bytes_); }

 private:
  std::vector<uint8_t> bytes_;
};

std::string Quoted(std::string_view s) {
  // Built by appending: GCC 12 warns falsely (-Wrestrict) on "'" + std::string(s) at -O3.
  std::string out;
  out.reserve(s.size() + 2);
  out += '\'';
  out.append(s);
  out += '\'';
  return out;
}

}  // namespace

GgufWriter::GgufWriter() = default;

GgufWriter::~GgufWriter() {
  if (sink_ && state_ != State::kFinished) sink_->Abandon();
}

void GgufWriter::Set(std::string_view key, const GgufValue& value) {
  CHECK_MSG(state_ == State::kDeclaring, "GgufWriter::Set after Begin");
  auto it = key_index_.find(std::string(key));
  if (it != key_index_.end()) {
    metadata_[it->second].second = value.Owned();
    return;
  }
  key_index_.emplace(std::string(key), metadata_.size());
  metadata_.emplace_back(std::string(key), value.Owned());
}

bool GgufWriter::Remove(std::string_view key) {
  CHECK_MSG(state_ == State::kDeclaring, "GgufWriter::Remove after Begin");
  auto it = key_index_.find(std::string(key));
  if (it == key_index_.end()) return false;
  metadata_.erase(metadata_.begin() + static_cast<std::ptrdiff_t>(it->second));
  key_index_.clear();
  for (size_t i = 0; i < metadata_.size(); ++i) key_index_.emplace(metadata_[i].first, i);
  return true;
}

const GgufValue* GgufWriter::Find(std::string_view key) const {
  auto it = key_index_.find(std::string(key));
  return it == key_index_.end() ? nullptr : &metadata_[it->second].second;
}

void GgufWriter::CopyMetadataFrom(const GgufFile& file) {
  version_ = file.version();
  for (const GgufKeyValue& kv : file.metadata()) Set(kv.key, kv.value);
}

Status GgufWriter::AddTensor(std::string_view name, DType type, std::span<const int64_t> dims) {
  CHECK_MSG(state_ == State::kDeclaring, "GgufWriter::AddTensor after Begin");
  const std::string where = "tensor " + Quoted(name) + ": ";
  if (name.empty()) return ErrorStatus("tensor name is empty");
  if (name.size() > kGgufMaxTensorNameBytes) {
    return ErrorStatus(where + "name is longer than " + std::to_string(kGgufMaxTensorNameBytes) +
                       " bytes (llama.cpp could not load it)");
  }
  if (tensor_index_.count(std::string(name)) != 0) return ErrorStatus(where + "duplicate name");
  if (dims.empty() || dims.size() > kGgufMaxDims) {
    return ErrorStatus(where + std::to_string(dims.size()) + " dimensions (1 to 4 allowed)");
  }
  int64_t n_elements = 1;
  for (size_t i = 0; i < dims.size(); ++i) {
    const int64_t d = dims[i];
    if (d <= 0) {
      return ErrorStatus(where + "dimension " + std::to_string(i) + " is " + std::to_string(d) +
                         ", not positive");
    }
    if (__builtin_mul_overflow(n_elements, d, &n_elements)) {
      return ErrorStatus(where + "more than INT64_MAX elements");
    }
  }
  const DTypeTraits& traits = Traits(type);
  if (dims[0] % traits.block_elems != 0) {
    return ErrorStatus(where + "rows of " + std::to_string(dims[0]) +
                       " elements are not a multiple of the " + std::string(traits.name) +
                       " block size " + std::to_string(traits.block_elems));
  }
  const std::optional<size_t> n_bytes = RowBytes(type, n_elements);
  if (!n_bytes) return ErrorStatus(where + "too many bytes");
  PendingTensor t;
  t.name = std::string(name);
  t.type = type;
  t.dims.assign(dims.begin(), dims.end());
  t.n_bytes = *n_bytes;
  tensor_index_.emplace(t.name, tensors_.size());
  tensors_.push_back(std::move(t));
  return Status::Ok();
}

Status GgufWriter::Prepare() {
  if (version_ != 2 && version_ != 3) {
    return ErrorStatus("GGUF version " + std::to_string(version_) + " cannot be written (2 or 3)");
  }
  uint64_t nested = 0;
  for (const auto& [key, value] : metadata_) {
    if (key.empty()) return ErrorStatus("a metadata key is empty");
    if (key.size() > kGgufMaxKeyBytes) {
      return ErrorStatus("metadata key " + Quoted(key.substr(0, 80)) + "... is too long");
    }
    const std::string problem = ValueProblem(value, 0);
    if (!problem.empty()) return ErrorStatus("metadata key " + Quoted(key) + ": " + problem);
    nested += NestedElements(value);
  }
  if (nested > kGgufMaxNestedArrayElements) {
    return ErrorStatus("arrays of arrays hold more than " +
                       std::to_string(kGgufMaxNestedArrayElements) + " elements in all");
  }
  if (metadata_.size() > kGgufMaxKeyValues || tensors_.size() > kGgufMaxTensors) {
    return ErrorStatus("too many metadata entries or tensors");
  }
  alignment_ = kGgufDefaultAlignment;
  if (const GgufValue* a = Find(kGgufAlignmentKey)) {
    if (a->type() != GgufType::kU32) {
      return ErrorStatus(std::string(kGgufAlignmentKey) + " must be a u32, not " +
                         std::string(GgufTypeName(a->type())));
    }
    const uint32_t value = a->Get<uint32_t>();
    if (value == 0 || !std::has_single_bit(value) || value > kGgufMaxAlignment) {
      return ErrorStatus(std::string(kGgufAlignmentKey) + " " + std::to_string(value) +
                         " is not a power of two between 1 and " +
                         std::to_string(kGgufMaxAlignment));
    }
    alignment_ = value;
  }
  uint64_t header = 4 + 4 + 8 + 8;
  for (const auto& [key, value] : metadata_) header += 8 + key.size() + 4 + value.EncodedSize();
  for (const PendingTensor& t : tensors_)
    header += 8 + t.name.size() + 4 + 8 * t.dims.size() + 4 + 8;
  uint64_t data = 0;
  for (PendingTensor& t : tensors_) {
    t.offset = data;
    data += AlignUp(t.n_bytes, alignment_);
  }
  const bool pad = !tensors_.empty() || pad_without_tensors_;
  file_size_ = (pad ? AlignUp(header, alignment_) : header) + data;
  return Status::Ok();
}

Status GgufWriter::Begin(const std::string& path) {
  CHECK_MSG(state_ == State::kDeclaring, "GgufWriter::Begin called twice");
  target_ = path;
  if (Status s = Prepare(); !s.ok()) return Fail(s.message());
  Result<std::unique_ptr<FileSink>> sink = FileSink::Create(path);
  if (!sink.ok()) return Fail(sink.status().message());
  sink_ = std::move(sink).value();
  state_ = State::kWriting;
  return WriteHeader();
}

Status GgufWriter::BeginInMemory() {
  CHECK_MSG(state_ == State::kDeclaring, "GgufWriter::BeginInMemory called twice");
  target_ = "<memory>";
  if (Status s = Prepare(); !s.ok()) return Fail(s.message());
  sink_ = std::make_unique<MemorySink>();
  state_ = State::kWriting;
  return WriteHeader();
}

Status GgufWriter::WriteHeader() {
  std::string out;
  AppendFixed<uint32_t>(&out, kGgufMagic);
  AppendFixed<uint32_t>(&out, version_);
  AppendFixed<uint64_t>(&out, tensors_.size());
  AppendFixed<uint64_t>(&out, metadata_.size());
  for (const auto& [key, value] : metadata_) {
    AppendString(&out, key);
    AppendFixed<uint32_t>(&out, static_cast<uint32_t>(value.type()));
    AppendValue(&out, value);
  }
  for (const PendingTensor& t : tensors_) {
    AppendString(&out, t.name);
    AppendFixed<uint32_t>(&out, static_cast<uint32_t>(t.dims.size()));
    for (int64_t d : t.dims) AppendFixed<uint64_t>(&out, static_cast<uint64_t>(d));
    AppendFixed<uint32_t>(&out, static_cast<uint32_t>(t.type));
    AppendFixed<uint64_t>(&out, t.offset);
  }
  if (!tensors_.empty() || pad_without_tensors_) {
    out.append(AlignUp(out.size(), alignment_) - out.size(), '\0');
  }
  if (Status s = sink_->Write(out.data(), out.size()); !s.ok()) return Fail(s.message());
  return Status::Ok();
}

Status GgufWriter::CheckWriting() const {
  if (state_ == State::kFailed) return ErrorStatus(error_);
  CHECK_MSG(state_ == State::kWriting, "GgufWriter: tensor data before Begin or after Finish");
  return Status::Ok();
}

std::string_view GgufWriter::next_tensor() const {
  return current_ < tensors_.size() ? std::string_view(tensors_[current_].name) : "";
}

Status GgufWriter::WriteTensor(std::string_view name, std::span<const uint8_t> bytes) {
  RETURN_IF_ERROR(CheckWriting());
  if (current_ >= tensors_.size()) {
    return Fail("tensor " + Quoted(name) + ": data given after all tensors were written");
  }
  const PendingTensor& t = tensors_[current_];
  if (t.name != name || current_written_ != 0) {
    return Fail("tensor " + Quoted(name) + ": data given out of order; expected tensor " +
                Quoted(t.name) + " next");
  }
  if (bytes.size() != t.n_bytes) {
    return Fail("tensor " + Quoted(name) + ": " + std::to_string(bytes.size()) +
                " bytes given, its type and shape need " + std::to_string(t.n_bytes));
  }
  return AppendTensorData(bytes);
}

Status GgufWriter::AppendTensorData(std::span<const uint8_t> bytes) {
  RETURN_IF_ERROR(CheckWriting());
  while (!bytes.empty()) {
    if (current_ >= tensors_.size()) {
      return Fail(std::to_string(bytes.size()) + " bytes of data given after the last tensor");
    }
    const PendingTensor& t = tensors_[current_];
    const uint64_t left = t.n_bytes - current_written_;
    if (bytes.size() > left) {
      // A piece may not straddle two tensors: it would hide a size mistake by the caller.
      return Fail("tensor " + Quoted(t.name) + ": " + std::to_string(bytes.size()) +
                  " bytes given, only " + std::to_string(left) + " left of its " +
                  std::to_string(t.n_bytes));
    }
    if (Status s = sink_->Write(bytes.data(), bytes.size()); !s.ok()) return Fail(s.message());
    current_written_ += bytes.size();
    bytes = {};
    if (current_written_ == t.n_bytes) {
      const uint64_t padding = AlignUp(t.n_bytes, alignment_) - t.n_bytes;
      if (Status s = sink_->WriteZeros(padding); !s.ok()) return Fail(s.message());
      ++current_;
      current_written_ = 0;
    }
  }
  return Status::Ok();
}

Status GgufWriter::Finish() {
  RETURN_IF_ERROR(CheckWriting());
  if (current_ < tensors_.size()) {
    return Fail("tensor " + Quoted(tensors_[current_].name) + " (" + std::to_string(current_ + 1) +
                " of " + std::to_string(tensors_.size()) + ") has not received all its data");
  }
  CHECK_MSG(sink_->written() == file_size_, "GgufWriter: layout and bytes written disagree");
  if (Status s = sink_->Commit(); !s.ok()) return Fail(s.message());
  state_ = State::kFinished;
  return Status::Ok();
}

std::vector<uint8_t> GgufWriter::TakeBuffer() {
  CHECK_MSG(state_ == State::kFinished, "GgufWriter::TakeBuffer before Finish");
  auto* memory = dynamic_cast<MemorySink*>(sink_.get());
  CHECK_MSG(memory != nullptr, "GgufWriter::TakeBuffer without BeginInMemory");
  return memory->Take();
}

Status GgufWriter::Fail(std::string message) {
  if (message.rfind(target_ + ": ", 0) != 0 && message.rfind("cannot ", 0) != 0) {
    message = target_ + ": " + message;
  }
  error_ = message;
  state_ = State::kFailed;
  if (sink_) sink_->Abandon();
  return ErrorStatus(std::move(message));
}

}  // namespace autarky

// MappedFile: open + fstat + mmap(PROT_READ, MAP_PRIVATE) with clear errors.
#include "util/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace autarky {

namespace {

// Transparent huge pages are 2 MiB on x86-64 and (usually) on AArch64 with 4 KiB base pages.
constexpr size_t kHugePageBytes = size_t{2} << 20;

// Reads the whole file into a fresh anonymous mapping advised for huge pages.
Result<uint8_t*> CopyToAnonymous(int fd, const std::string& path, size_t size, size_t mapped) {
  void* addr = ::mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (addr == MAP_FAILED) {
    return ErrorStatus("cannot allocate " + std::to_string(mapped >> 20) + " MiB to load " + path +
                       ": " + std::strerror(errno));
  }
#ifdef MADV_HUGEPAGE
  ::madvise(addr, mapped, MADV_HUGEPAGE);  // advice only: without THP it is ordinary memory
#endif
  auto* bytes = static_cast<uint8_t*>(addr);
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::pread(fd, bytes + done, size - done, static_cast<off_t>(done));
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      if (n < 0 && err == EINTR) continue;
      ::munmap(addr, mapped);
      return ErrorStatus("cannot read " + path + ": " + std::strerror(err));
    }
    done += static_cast<size_t>(n);
  }
  ::mprotect(addr, mapped, PROT_READ);
  return bytes;
}

}  // namespace

Result<MappedFile> MappedFile::Open(const std::string& path, FileLoad mode) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrorStatus("cannot open " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return ErrorStatus("cannot stat " + path + ": " + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return ErrorStatus(path + " is not a regular file");
  }
  MappedFile file;
  file.path_ = path;
  file.size_ = static_cast<size_t>(st.st_size);
  if (file.size_ > 0 && mode == FileLoad::kCopy) {
    file.mapped_bytes_ = (file.size_ + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
    Result<uint8_t*> copy = CopyToAnonymous(fd, path, file.size_, file.mapped_bytes_);
    ::close(fd);
    if (!copy.ok()) return copy.status();
    file.data_ = *copy;
    return file;
  }
  if (file.size_ > 0) {
    file.mapped_bytes_ = file.size_;
    void* addr = ::mmap(nullptr, file.size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (addr == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      return ErrorStatus("cannot mmap " + path + ": " + std::strerror(err));
    }
    file.data_ = static_cast<const uint8_t*>(addr);
#ifdef MADV_HUGEPAGE
    // Where the file system caches the file in large folios, lets the kernel map them with
    // huge page table entries: fewer TLB misses when the weights stream through (advice only).
    ::madvise(addr, file.size_, MADV_HUGEPAGE);
#endif
  }
  ::close(fd);  // the mapping keeps the file alive
  return file;
}

MappedFile::MappedFile(MappedFile&& other) noexcept { *this = std::move(other); }

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    Release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    mapped_bytes_ = std::exchange(other.mapped_bytes_, 0);
    path_ = std::move(other.path_);
  }
  return *this;
}

MappedFile::~MappedFile() { Release(); }

void MappedFile::Release() {
  if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), mapped_bytes_);
  data_ = nullptr;
  size_ = 0;
  mapped_bytes_ = 0;
}

}  // namespace autarky

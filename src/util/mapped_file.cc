// MappedFile: open + fstat + mmap(PROT_READ, MAP_PRIVATE) with clear errors, and the page
// cache's huge pages for streamed weights.
#include "util/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
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

// Maps the whole file read-only at a 2 MiB-aligned address, advised for huge pages: a file
// offset can only map with a huge page where it and its address agree modulo 2 MiB, and the
// kernel does not align file mappings by itself.
Result<uint8_t*> MapAligned(int fd, const std::string& path, size_t size) {
  const size_t reserve = size + kHugePageBytes;
  void* area = ::mmap(nullptr, reserve, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                      -1, 0);
  if (area == MAP_FAILED) return ErrorStatus("cannot mmap " + path + ": " + std::strerror(errno));
  const uintptr_t begin = reinterpret_cast<uintptr_t>(area);
  const uintptr_t aligned = (begin + kHugePageBytes - 1) & ~(uintptr_t{kHugePageBytes} - 1);
  void* addr = ::mmap(reinterpret_cast<void*>(aligned), size, PROT_READ, MAP_PRIVATE | MAP_FIXED,
                      fd, 0);
  if (addr == MAP_FAILED) {
    const int err = errno;
    ::munmap(area, reserve);
    return ErrorStatus("cannot mmap " + path + ": " + std::strerror(err));
  }
  // Give back the reservation on both sides of the file's pages.
  const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t end = (aligned + size + page - 1) & ~(page - 1);
  if (aligned > begin) ::munmap(area, aligned - begin);
  if (begin + reserve > end) ::munmap(reinterpret_cast<void*>(end), begin + reserve - end);
#ifdef MADV_HUGEPAGE
  // Where the page cache holds the file in 2 MiB folios, the kernel then maps them with huge
  // page table entries (advice only).
  ::madvise(addr, size, MADV_HUGEPAGE);
#endif
  return static_cast<uint8_t*>(addr);
}

// Files smaller than this are mapped as they are cached.
constexpr size_t kRecacheMinBytes = size_t{64} << 20;

bool TransparentHugePagesOff() {
  std::ifstream in("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string line;
  if (!std::getline(in, line)) return true;  // no THP in this kernel (or not Linux)
  return line.find("[never]") != std::string::npos;
}

// Reads the 2 MiB span at `offset` of the mapping and returns the mapping's bytes mapped with
// huge pages after that.
size_t TouchSpan(const uint8_t* addr, size_t size, size_t offset) {
  (void)*reinterpret_cast<const volatile uint8_t*>(addr + offset);  // a read fault
  return HugePageBytesIn(addr, size);
}

void DropCachedRange(int fd, size_t offset, size_t length) {
#ifdef POSIX_FADV_DONTNEED
  // Only clean pages that no process maps are dropped; the others stay as they are.
  if (length > 0) {
    ::posix_fadvise(fd, static_cast<off_t>(offset), static_cast<off_t>(length),
                    POSIX_FADV_DONTNEED);
  }
#else
  (void)fd, (void)offset, (void)length;
#endif
}

// Decoding streams every weight once per token. With 4 KiB pages that costs a TLB miss per
// 4 KiB and stops the hardware prefetchers at every 4 KiB boundary: on Zen 4 a one-thread
// Q4_K row kernel read a file mapped in 4 KiB pages at 17.8 GB/s and anonymous huge pages at
// 23 GB/s, and the decode of a 1 GB Q4_K_M model went from 18.7 to 22.0 tok/s once its file
// mapped with 2 MiB pages. Whether it does depends on how the page cache holds the file: read
// through a huge-page-advised mapping, it is cached in 2 MiB folios (on file systems with large
// folios: XFS, ext4 from Linux 6.16, tmpfs with huge=), but a file that was written or read in
// small pieces (a download, cp) stays cached in small folios for as long as it is cached. So:
//  1. read kProbeSpans aligned 2 MiB spans spread over the file; all mapped huge: the file is
//     cached that way, done;
//  2. otherwise drop the first small one from the cache and read it again: still not huge, the
//     file system (or memory, or another process mapping that span) cannot give huge pages, and
//     the cost was re-reading 2 MiB;
//  3. otherwise drop the rest of the file too: the weights come back from disk in 2 MiB folios
//     as the model first touches them, once; later runs find them cached that way (step 1).
Result<uint8_t*> MapForStreaming(int fd, const std::string& path, size_t size) {
  ASSIGN_OR_RETURN(uint8_t * addr, MapAligned(fd, path, size));
  if (size < kRecacheMinBytes || TransparentHugePagesOff()) return addr;
  constexpr int kProbeSpans = 8;
  const size_t spans = size / kHugePageBytes;  // whole spans (>= 32)
  size_t small_span = SIZE_MAX;
  for (int i = 0; i < kProbeSpans && small_span == SIZE_MAX; ++i) {
    const size_t offset = (spans * (2 * i + 1) / (2 * kProbeSpans)) * kHugePageBytes;
    if (TouchSpan(addr, size, offset) < static_cast<size_t>(i + 1) * kHugePageBytes) {
      small_span = offset;
    }
  }
  if (small_span == SIZE_MAX) return addr;
  ::munmap(addr, size);
  DropCachedRange(fd, small_span, kHugePageBytes);
  ASSIGN_OR_RETURN(addr, MapAligned(fd, path, size));
  if (TouchSpan(addr, size, small_span) == 0) return addr;
  ::munmap(addr, size);
  DropCachedRange(fd, 0, small_span);
  DropCachedRange(fd, small_span + kHugePageBytes, size - small_span - kHugePageBytes);
  return MapAligned(fd, path, size);
}

}  // namespace

size_t HugePageBytesIn(const void* data, size_t size) {
  // /proc/self/smaps: a header line "start-end perms ..." per mapping, then "Key: N kB" lines.
  std::ifstream in("/proc/self/smaps");
  if (!in) return 0;
  const uintptr_t begin = reinterpret_cast<uintptr_t>(data);
  const uintptr_t end = begin + size;
  bool inside = false;
  size_t total_kib = 0;
  std::string line;
  while (std::getline(in, line)) {
    unsigned long long lo = 0, hi = 0;
    char dash = 0;
    std::istringstream header(line);
    if ((header >> std::hex >> lo >> dash >> hi) && dash == '-' && line.find(':') > line.find(' ')) {
      inside = lo < end && hi > begin;
      continue;
    }
    if (!inside) continue;
    unsigned long long kib = 0;
    if (std::sscanf(line.c_str(), "FilePmdMapped: %llu kB", &kib) == 1 ||
        std::sscanf(line.c_str(), "AnonHugePages: %llu kB", &kib) == 1) {
      total_kib += kib;
    }
  }
  return total_kib << 10;
}

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
    Result<uint8_t*> mapped = mode == FileLoad::kStream ? MapForStreaming(fd, path, file.size_)
                                                        : MapAligned(fd, path, file.size_);
    if (!mapped.ok()) {
      ::close(fd);
      return mapped.status();
    }
    file.data_ = *mapped;
    file.mapped_bytes_ = file.size_;
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

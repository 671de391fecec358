// ProgressBar: in-place terminal bar with rate and ETA, or throttled lines when not a terminal.
#include "util/progress.h"

#include <unistd.h>

#include <algorithm>

namespace autarky {
namespace {

constexpr int kBarWidth = 30;
constexpr auto kInteractiveInterval = std::chrono::milliseconds(100);
constexpr auto kLogInterval = std::chrono::seconds(5);

std::string FormatSeconds(double seconds) {
  char buf[32];
  const int s = static_cast<int>(seconds + 0.5);
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%dh%02dm", s / 3600, (s / 60) % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%dm%02ds", s / 60, s % 60);
  }
  return buf;
}

}  // namespace

ProgressBar::ProgressBar(std::string label, uint64_t total, FILE* out)
    : label_(std::move(label)),
      total_(total),
      out_(out),
      interactive_(isatty(fileno(out)) != 0),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

ProgressBar::~ProgressBar() { Finish(); }

std::string ProgressBar::FormatBytes(uint64_t bytes) {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024.0 && unit < 4) {
    value /= 1024.0;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, unit == 0 ? "%.0f %s" : "%.1f %s", value, kUnits[unit]);
  return buf;
}

void ProgressBar::Update(uint64_t done, const std::string& note) {
  done_ = std::min(done, total_);
  note_ = note;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ >= (interactive_ ? kInteractiveInterval : kLogInterval)) Draw(false);
}

void ProgressBar::Println(const std::string& line) {
  if (interactive_ && !finished_) {
    std::fprintf(out_, "\r\033[K%s\n", line.c_str());
    Draw(false);
  } else {
    std::fprintf(out_, "%s\n", line.c_str());
    std::fflush(out_);
  }
}

void ProgressBar::Finish() {
  if (finished_) return;
  finished_ = true;
  Draw(true);
}

void ProgressBar::Draw(bool final_draw) {
  last_draw_ = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(last_draw_ - start_).count();
  const double fraction = total_ == 0 ? 1.0 : static_cast<double>(done_) / total_;
  std::string eta = final_draw ? FormatSeconds(elapsed)
                   : fraction > 0 ? "eta " + FormatSeconds(elapsed * (1 - fraction) / fraction)
                                  : "eta ?";
  if (interactive_) {
    const int filled = static_cast<int>(fraction * kBarWidth);
    std::string bar(filled, '#');
    bar.append(kBarWidth - filled, '.');
    std::string note = note_.size() > 40 ? note_.substr(0, 37) + "..." : note_;
    std::fprintf(out_, "\r\033[K%s [%s] %3d%% %s %s", label_.c_str(), bar.c_str(),
                 static_cast<int>(fraction * 100), eta.c_str(), note.c_str());
    if (final_draw) std::fputc('\n', out_);
  } else {
    std::fprintf(out_, "%s: %3d%% %s %s\n", label_.c_str(), static_cast<int>(fraction * 100),
                 eta.c_str(), note_.c_str());
  }
  std::fflush(out_);
}

}  // namespace autarky

// A progress bar for long-running work (quantizing, loading, downloading), drawn on stderr.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace autarky {

// Redraws one line in place when stderr is a terminal; otherwise prints a plain line at most
// every few seconds (and at the end), so that logs of batch jobs stay readable.
class ProgressBar {
 public:
  // `total` units (bytes, tensors...) and a label printed before the bar.
  ProgressBar(std::string label, uint64_t total, FILE* out = stderr);
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // Sets the amount done so far and a short note about the current item (e.g. a tensor name).
  void Update(uint64_t done, const std::string& note = "");
  // Prints a whole line above the bar (which is redrawn below it on a terminal).
  void Println(const std::string& line);
  // Draws the final state and ends the line; called by the destructor if not called before.
  void Finish();

  // Formats a byte count as "12.3 MiB".
  static std::string FormatBytes(uint64_t bytes);

 private:
  void Draw(bool final_draw);

  std::string label_;
  uint64_t total_;
  uint64_t done_ = 0;
  std::string note_;
  FILE* out_;
  bool interactive_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace autarky

// /metrics: the scheduler's and the HTTP layer's counters in Prometheus' text format (0.0.4).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "engine/scheduler.h"

namespace autarky::server {

// HTTP requests by route and status. Thread-safe.
class RequestCounters {
 public:
  void Count(const std::string& route, int status);
  std::map<std::pair<std::string, int>, int64_t> Snapshot() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, int64_t> counts_;
};

struct ServerGauges {
  int active_connections = 0;
  int64_t rejected_connections = 0;
  double uptime_seconds = 0;
};

std::string PrometheusText(const SchedulerStats& stats,
                           const std::map<std::pair<std::string, int>, int64_t>& requests,
                           const ServerGauges& gauges);

}  // namespace autarky::server

// Prometheus text exposition of the server's metrics.
#include "server/metrics.h"

#include <cstdio>

namespace autarky::server {

namespace {

std::string Number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

class Writer {
 public:
  void Head(const char* name, const char* type, const char* help) {
    out_ += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  }
  void Sample(const std::string& name, double value, const std::string& labels = {}) {
    out_ += name;
    if (!labels.empty()) {
      out_ += '{';
      out_ += labels;
      out_ += '}';
    }
    out_ += ' ';
    out_ += Number(value);
    out_ += '\n';
  }
  void Metric(const char* name, const char* type, const char* help, double value) {
    Head(name, type, help);
    Sample(name, value);
  }
  void Histo(const char* name, const char* help, const Histogram& h) {
    Head(name, "histogram", help);
    int64_t cumulative = 0;
    for (size_t i = 0; i < h.bounds.size(); ++i) {
      cumulative += i < h.counts.size() ? h.counts[i] : 0;
      Sample(std::string(name) + "_bucket", static_cast<double>(cumulative),
             "le=\"" + Number(h.bounds[i]) + "\"");
    }
    Sample(std::string(name) + "_bucket", static_cast<double>(h.count), "le=\"+Inf\"");
    Sample(std::string(name) + "_sum", h.sum);
    Sample(std::string(name) + "_count", static_cast<double>(h.count));
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

}  // namespace

void RequestCounters::Count(const std::string& route, int status) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++counts_[{route, status}];
}

std::map<std::pair<std::string, int>, int64_t> RequestCounters::Snapshot() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return counts_;
}

std::string PrometheusText(const SchedulerStats& s,
                           const std::map<std::pair<std::string, int>, int64_t>& requests,
                           const ServerGauges& gauges) {
  Writer w;
  w.Head("autarky_http_requests_total", "counter", "HTTP requests answered, by route and status.");
  for (const auto& [key, count] : requests) {
    w.Sample("autarky_http_requests_total", static_cast<double>(count),
             "route=\"" + key.first + "\",status=\"" + std::to_string(key.second) + "\"");
  }
  w.Metric("autarky_http_connections", "gauge", "Open HTTP connections.",
           gauges.active_connections);
  w.Metric("autarky_http_connections_rejected_total", "counter",
           "Connections refused with 503 because too many were open.",
           static_cast<double>(gauges.rejected_connections));
  w.Metric("autarky_uptime_seconds", "gauge", "Seconds since the server started.",
           gauges.uptime_seconds);

  w.Metric("autarky_requests_submitted_total", "counter",
           "Generation requests accepted by the scheduler.",
           static_cast<double>(s.requests_submitted));
  w.Metric("autarky_requests_rejected_total", "counter",
           "Generation requests refused with 429 because the queue was full.",
           static_cast<double>(s.requests_rejected));
  w.Head("autarky_requests_finished_total", "counter", "Generation requests finished, by reason.");
  for (int r = 1; r < 5; ++r) {
    w.Sample("autarky_requests_finished_total", static_cast<double>(s.requests_finished[r]),
             std::string("reason=\"") + FinishReasonName(static_cast<FinishReason>(r)) + "\"");
  }
  w.Metric("autarky_queue_depth", "gauge", "Requests waiting for a free slot.", s.queued);
  w.Metric("autarky_active_requests", "gauge", "Requests holding a slot (prompt or generation).",
           s.active);
  w.Metric("autarky_slots", "gauge", "KV cache slots (--parallel).", s.n_slots);

  w.Metric("autarky_prompt_tokens_total", "counter", "Prompt tokens of accepted requests.",
           static_cast<double>(s.prompt_tokens));
  w.Metric("autarky_prompt_tokens_cached_total", "counter",
           "Prompt tokens reused from the KV cache instead of evaluated.",
           static_cast<double>(s.cached_tokens));
  w.Metric("autarky_completion_tokens_total", "counter", "Generated tokens.",
           static_cast<double>(s.completion_tokens));
  w.Metric("autarky_generation_tokens_per_second", "gauge",
           "Generated tokens per second over the last 10 seconds.", s.tokens_per_second);

  w.Metric("autarky_kv_cache_tokens", "gauge", "Positions held in the KV cache, all slots.",
           static_cast<double>(s.kv_tokens));
  w.Metric("autarky_kv_cache_capacity_tokens", "gauge", "Positions the KV cache can hold.",
           static_cast<double>(s.kv_capacity));
  w.Metric("autarky_kv_cache_usage_ratio", "gauge", "kv_cache_tokens / kv_cache_capacity_tokens.",
           s.kv_capacity > 0 ? static_cast<double>(s.kv_tokens) / s.kv_capacity : 0.0);

  w.Metric("autarky_forward_passes_total", "counter", "Batched forward passes (scheduler steps).",
           static_cast<double>(s.steps));
  w.Metric("autarky_forward_tokens_total", "counter", "Tokens evaluated by forward passes.",
           static_cast<double>(s.step_tokens));
  w.Metric("autarky_forward_sequences_total", "counter",
           "Sequences over all forward passes (divided by passes: the mean batch).",
           static_cast<double>(s.step_sequences));
  w.Metric("autarky_forward_seconds_total", "counter", "Time spent in forward passes.",
           s.forward_seconds);
  w.Metric("autarky_batch_sequences_max", "gauge", "Most sequences one forward pass has held.",
           s.max_step_sequences);
  w.Histo("autarky_batch_sequences", "Sequences per forward pass.", s.sequences_per_step);
  w.Histo("autarky_time_to_first_token_seconds",
          "Time from a request's arrival to its first generated token.", s.time_to_first_token);
  return w.Take();
}

}  // namespace autarky::server

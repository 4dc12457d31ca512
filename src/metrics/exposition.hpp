#pragma once
// The Prometheus text exposition format (version 0.0.4): samples grouped by metric, each
// metric with its HELP and TYPE once, label values escaped.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace crs::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Exposition {
 public:
  void counter(std::string_view name, std::string_view help, const Labels& labels, double value);
  void gauge(std::string_view name, std::string_view help, const Labels& labels, double value);
  // `counts`: observations per bucket (not cumulative), one more than `bounds` (+Inf last).
  void histogram(std::string_view name, std::string_view help, const Labels& labels,
                 const std::vector<double>& bounds, const std::vector<uint64_t>& counts, double sum);
  // HELP and TYPE of a metric that may have no sample yet (a failure never seen).
  void declare(std::string_view name, std::string_view type, std::string_view help) { metric(name, type, help); }
  std::string text() const;

 private:
  struct Metric {
    std::string type, help;
    std::vector<std::string> samples;
  };
  Metric& metric(std::string_view name, std::string_view type, std::string_view help);
  std::vector<std::string> order_;
  std::map<std::string, Metric, std::less<>> metrics_;
};

// 1, 0.25, 1e+21: what Prometheus parses, shortest exact form.
std::string format_value(double v);

}  // namespace crs::metrics

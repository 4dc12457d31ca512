#include "metrics/exposition.hpp"

#include <cmath>

#include <fmt/format.h>

namespace crs::metrics {

namespace {

std::string escaped(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string label_text(const Labels& labels, std::string_view extra_name = {}, std::string_view extra_value = {}) {
  if (labels.empty() && extra_name.empty()) return {};
  std::string out = "{";
  for (const auto& [name, value] : labels) {
    if (out.size() > 1) out += ',';
    out += name + "=\"" + escaped(value) + '"';
  }
  if (!extra_name.empty()) {
    if (out.size() > 1) out += ',';
    out += std::string(extra_name) + "=\"" + std::string(extra_value) + '"';
  }
  return out + "}";
}

}  // namespace

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{}", static_cast<int64_t>(v));
  return fmt::format("{}", v);
}

Exposition::Metric& Exposition::metric(std::string_view name, std::string_view type, std::string_view help) {
  auto it = metrics_.find(name);
  if (it == metrics_.end()) {
    order_.emplace_back(name);
    it = metrics_.emplace(std::string(name), Metric{std::string(type), std::string(help), {}}).first;
  }
  return it->second;
}

void Exposition::counter(std::string_view name, std::string_view help, const Labels& labels, double value) {
  metric(name, "counter", help).samples.push_back(std::string(name) + label_text(labels) + ' ' + format_value(value));
}

void Exposition::gauge(std::string_view name, std::string_view help, const Labels& labels, double value) {
  metric(name, "gauge", help).samples.push_back(std::string(name) + label_text(labels) + ' ' + format_value(value));
}

void Exposition::histogram(std::string_view name, std::string_view help, const Labels& labels,
                           const std::vector<double>& bounds, const std::vector<uint64_t>& counts, double sum) {
  auto& m = metric(name, "histogram", help);
  uint64_t cumulative = 0;
  std::string n(name);
  for (size_t i = 0; i < counts.size(); ++i) {
    cumulative += counts[i];
    std::string le = i < bounds.size() ? format_value(bounds[i]) : "+Inf";
    m.samples.push_back(n + "_bucket" + label_text(labels, "le", le) + ' ' + format_value(static_cast<double>(cumulative)));
  }
  m.samples.push_back(n + "_sum" + label_text(labels) + ' ' + format_value(sum));
  m.samples.push_back(n + "_count" + label_text(labels) + ' ' + format_value(static_cast<double>(cumulative)));
}

std::string Exposition::text() const {
  std::string out;
  for (const auto& name : order_) {
    const auto& m = metrics_.at(name);
    out += "# HELP " + name + ' ' + m.help + '\n';
    out += "# TYPE " + name + ' ' + m.type + '\n';
    for (const auto& s : m.samples) out += s + '\n';
  }
  return out;
}

}  // namespace crs::metrics

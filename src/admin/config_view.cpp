#include "admin/config_view.hpp"

#include "core/secret.hpp"

namespace crs::admin {
namespace json = boost::json;

namespace {

json::value to_json(const config::Value& v) {
  return std::visit(
      [](const auto& x) -> json::value {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          json::array a;
          for (const auto& s : x) a.emplace_back(s);
          return a;
        } else {
          return json::value(x);
        }
      },
      v);
}

}  // namespace

std::string shown_value(const config::KeySpec& spec, const config::Value& v, bool generated_later, SecretView view) {
  if (spec.secret) {
    const auto* s = std::get_if<std::string>(&v);
    const auto* list = std::get_if<std::vector<std::string>>(&v);
    bool empty = (s && s->empty()) || (list && list->empty());
    if (empty) return generated_later ? "(not set: generated on first start)" : "(not set)";
    if (view == SecretView::kSetOrNot) return "(set)";
    return s ? mask_secret(*s) : "***";
  }
  return config::format_value(v);
}

json::array config_keys_json(const config::Config& cfg, const std::map<std::string, config::Origin>& origins,
                             SecretView view) {
  json::array keys;
  for (const auto& spec : config::schema()) {
    auto found = origins.find(spec.path);
    config::Origin origin = found == origins.end() ? config::Origin{} : found->second;
    auto value = spec.get(cfg);
    json::object entry;
    entry["key"] = spec.path;
    entry["source"] = config::source_name(origin.source);
    entry["origin"] = origin.where;
    entry["value"] = spec.secret ? json::value(shown_value(spec, value, false, view)) : to_json(value);
    if (spec.secret) entry["secret"] = true;
    entry["live"] = spec.live;
    json::array env;
    for (const auto& e : spec.env) env.emplace_back(e);
    entry["env"] = std::move(env);
    keys.push_back(std::move(entry));
  }
  return keys;
}

}  // namespace crs::admin

#pragma once
// The fake alert receiver (tools/fake_alert_sink) as a process: webhooks over HTTP, email over
// SMTP with STARTTLS and AUTH.
#include <optional>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "core/subprocess.hpp"
#include "support/support.hpp"

namespace crs::test {

namespace json = boost::json;

// The fake receiver as a process; `start()` may come after the relay tried it (a receiver down
// at first).
class AlertSink {
 public:
  explicit AlertSink(const TempDir& dir) : dir_(dir), http_port_(free_port()), smtp_port_(free_port()) {}
  bool make_certificate() {
    auto r = run_command({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", dir_.file("sink.key"),
                          "-out", dir_.file("sink.crt"), "-days", "1", "-subj", "/CN=127.0.0.1", "-addext",
                          "subjectAltName=IP:127.0.0.1"});
    return r.exit_code == 0;
  }
  bool start() {
    SpawnOptions o;
    o.argv = {"python3", source_dir() + "/tools/fake_alert_sink/fake_alert_sink.py", "--http-port",
              std::to_string(http_port_), "--smtp-port", std::to_string(smtp_port_), "--cert", dir_.file("sink.crt"),
              "--key", dir_.file("sink.key"), "--user", "alerts@example.com", "--password", "smtp-pass-0123"};
    o.stdout_path = dir_.file("sink.log");
    o.stderr_path = "=stdout";
    auto child = Subprocess::spawn(o);
    if (!child) return false;
    process_.emplace(std::move(child.value()));
    return wait_until([&] { return read_file(o.stdout_path).find("ready") != std::string::npos; });
  }
  int http_port() const { return http_port_; }
  int smtp_port() const { return smtp_port_; }
  std::string ca_file() const { return dir_.file("sink.crt"); }
  json::object received() {
    auto r = http_get(http_port_, "/_sink/received");
    if (r.status != 200) return json::object{{"webhooks", json::array{}}, {"emails", json::array{}}};
    return json::parse(r.body).as_object();
  }
  // The webhooks posted to `path` whose body mentions `needle`.
  std::vector<json::object> hooks(const std::string& path, const std::string& needle) {
    std::vector<json::object> out;
    auto all = received();
    for (const auto& h : all.at("webhooks").as_array())
      if (h.at("path").as_string() == path && std::string(h.at("body").as_string()).find(needle) != std::string::npos)
        out.push_back(h.as_object());
    return out;
  }
  std::vector<json::object> emails(const std::string& needle) {
    std::vector<json::object> out;
    auto all = received();
    for (const auto& m : all.at("emails").as_array())
      if (std::string(m.at("data").as_string()).find(needle) != std::string::npos) out.push_back(m.as_object());
    return out;
  }

 private:
  const TempDir& dir_;
  int http_port_, smtp_port_;
  std::optional<Subprocess> process_;
};

}  // namespace crs::test

// API key export for admins: POST /admin/api-keys/export starts a task (202), /admin/exports
// lists, shows, downloads and deletes them. The work and the files are the ExportService's
// (export/service.hpp); every answer here reads the task from Redis, so any instance can show
// any task, and a task whose instance died is failed by the first reader (its lease).
#include <unistd.h>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "admin/admin_http.hpp"
#include "export/files.hpp"
#include "export/service.hpp"
#include "export/task_store.hpp"

namespace crs::admin {
namespace json = boost::json;
namespace kx = key_export;
using http_server::Exchange;

namespace {

constexpr size_t kDownloadChunk = 64 * 1024;

http_server::Response not_found(std::string_view why) { return admin_error(http::status::not_found, "Not found", why); }
http_server::Response task_not_found() { return not_found("export task not found"); }

// 404 when exports are off, 503 when the output directory was refused; nullopt when they run.
std::optional<http_server::Response> refusal(const kx::ExportService* s) {
  if (!s || !s->enabled()) return not_found("API key export is disabled (apiExport.enabled = false)");
  if (!s->unavailable().empty())
    return admin_error(http::status::service_unavailable, "Export unavailable", s->unavailable());
  return std::nullopt;
}

// The task, or nullopt after answering 404 (or 503). A task found abandoned loses its
// temporary file here, if it was written on this instance's disk.
Task<std::optional<kx::ExportTask>> find_task(Exchange& ex, const AdminDeps& d, const std::string& id) {
  if (!is_uuid(id)) {
    co_await ex.send(task_not_found());
    co_return std::nullopt;
  }
  kx::TaskStore tasks(d.redis_for(ex));
  auto found = co_await tasks.get(id);
  if (!found) {
    co_await ex.send(admin_error(http::status::service_unavailable, "Service unavailable", found.error().message));
    co_return std::nullopt;
  }
  if (!*found) {
    co_await ex.send(task_not_found());
    co_return std::nullopt;
  }
  if ((*found)->failed_now) {
    auto format = kx::parse_format((*found)->task.format);
    if (format) kx::remove_export_file(d.exports->dir(), kx::temp_name(id, *format));
  }
  co_return std::move((*found)->task);
}

Task<void> start_export(Exchange& ex, const SessionClaims& who, AdminDepsPtr d) {
  if (auto r = refusal(d->exports)) co_return co_await ex.send(std::move(*r));
  auto body = co_await read_json_object(ex);
  if (!body) co_return;
  auto spec = kx::parse_spec(*body, d->exports->policy());
  if (!spec) co_return co_await ex.send(admin_error(http::status::bad_request, "Invalid request", spec.error().message));
  if (!d->exports->has_room())
    co_return co_await ex.send(admin_error(http::status::too_many_requests, "Too many exports",
                                           fmt::format("this instance has {} exports queued or running; try again later",
                                                       kx::kMaxQueuedExports)));
  auto task = kx::new_task(*spec, who.username, d->exports->instance());
  kx::TaskStore tasks(d->redis_for(ex));
  if (auto made = co_await tasks.create(task); !made)
    co_return co_await ex.send(admin_error(http::status::service_unavailable, "Service unavailable", made.error().message));
  auto view = kx::task_json(task);
  d->exports->enqueue(task, std::move(*spec));
  auto response = admin_data(std::move(view), http::status::accepted);
  response.set(http::field::location, "/admin/exports/" + task.id);
  co_await ex.send(std::move(response));
}

json::object field_list(const kx::ExportService& s) {
  json::array fields;
  for (const auto& f : kx::field_catalogue()) fields.push_back(json::object{{"name", f.name}, {"description", f.description}});
  json::array formats, defaults;
  for (const auto& f : s.policy().supported_formats) formats.emplace_back(f);
  for (const auto& f : kx::default_fields(kx::UsageRequest{})) defaults.emplace_back(f);
  json::array filters{"status", "tags", "boundAccount", "createdFrom", "createdTo", "lastUsedFrom", "lastUsedTo", "hasUsage"};
  return json::object{{"fields", std::move(fields)}, {"defaultFields", std::move(defaults)},
                      {"formats", std::move(formats)}, {"filters", std::move(filters)},
                      {"sanitizeByDefault", s.policy().sanitize_by_default}};
}

Task<void> show_fields(Exchange& ex, AdminDepsPtr d) {
  if (auto r = refusal(d->exports)) co_return co_await ex.send(std::move(*r));
  co_await ex.send(admin_data(field_list(*d->exports)));
}

Task<void> list_exports(Exchange& ex, AdminDepsPtr d) {
  if (auto r = refusal(d->exports)) co_return co_await ex.send(std::move(*r));
  auto q = query_params(ex.query());
  size_t limit = 50;
  if (q.count("limit")) {
    char* end = nullptr;
    long long v = std::strtoll(q["limit"].c_str(), &end, 10);
    if (q["limit"].empty() || *end || v < 1 || v > 500)
      co_return co_await ex.send(admin_error(http::status::bad_request, "Invalid request", "limit: a number from 1 to 500"));
    limit = static_cast<size_t>(v);
  }
  kx::TaskStore tasks(d->redis_for(ex));
  auto found = co_await tasks.list(limit);
  if (!found) co_return co_await ex.send(admin_error(http::status::service_unavailable, "Service unavailable", found.error().message));
  auto stats = co_await tasks.stats(7);
  json::array items;
  for (const auto& f : *found) {
    if (f.failed_now) {
      auto format = kx::parse_format(f.task.format);
      if (format) kx::remove_export_file(d->exports->dir(), kx::temp_name(f.task.id, *format));
    }
    items.push_back(kx::task_json(f.task));
  }
  json::object data;
  data["tasks"] = std::move(items);
  data["cleanup"] = d->exports->cleanup_status();
  data["stats"] = nullptr;
  if (stats) data["stats"] = std::move(*stats);
  co_await ex.send(admin_data(std::move(data)));
}

Task<void> show_export(Exchange& ex, AdminDepsPtr d) {
  if (auto r = refusal(d->exports)) co_return co_await ex.send(std::move(*r));
  auto task = co_await find_task(ex, *d, ex.params().at("id"));
  if (!task) co_return;
  co_await ex.send(admin_data(kx::task_json(*task)));
}

http::response<http::empty_body> download_head(const kx::ExportTask& t, kx::Format format) {
  http::response<http::empty_body> head{http::status::ok, 11};
  head.set(http::field::content_type, kx::content_type(format));
  // The name is ours (task id and format): nothing a request wrote reaches the header.
  head.set(http::field::content_disposition, "attachment; filename=\"" + t.file + "\"");
  head.set("X-Content-SHA256", t.sha256);
  head.set("X-Export-Rows", std::to_string(t.rows));
  head.set(http::field::cache_control, "no-store");
  head.set("X-Content-Type-Options", "nosniff");
  return head;
}

// Streams the file in chunks read on the export thread; a file that changed size since it
// was opened cannot keep its promise of length: the connection is closed instead.
Task<void> send_file(Exchange& ex, kx::ExportService& service, const kx::ExportTask& t, kx::Format format,
                     kx::OpenedFile file) {
  auto ec = co_await ex.start_sized(download_head(t, format), file.size);
  uint64_t offset = 0;
  if (ex.request().method() == http::verb::head) offset = file.size;  // the header is the answer
  while (!ec && offset < file.size) {
    auto chunk = co_await service.read(file.fd, offset, static_cast<size_t>(std::min<uint64_t>(kDownloadChunk, file.size - offset)));
    if (!chunk || chunk->empty()) break;
    offset += chunk->size();
    ec = co_await ex.write_chunk(*chunk);
  }
  ::close(file.fd);
  if (ec || offset != file.size) {
    ex.abandon();
    co_return;
  }
  co_await ex.end_stream();
}

Task<void> download_export(Exchange& ex, AdminDepsPtr d) {
  if (auto r = refusal(d->exports)) co_return co_await ex.send(std::move(*r));
  auto task = co_await find_task(ex, *d, ex.params().at("id"));
  if (!task) co_return;
  if (task->live())
    co_return co_await ex.send(admin_error(http::status::conflict, "Not ready",
                                           "the export is " + task->state + "; download it once it is done"));
  auto format = kx::parse_format(task->format);
  if (task->state != "done" || !format) co_return co_await ex.send(not_found("the export has no file (" + task->state + ")"));
  auto file = kx::open_export_file(d->exports->dir(), task->file);
  if (!file) co_return co_await ex.send(not_found("the export file is not on this instance's disk (" + file.error().message + ")"));
  co_await send_file(ex, *d->exports, *task, *format, *file);
}

json::object outcome(const std::string& id, const char* name, json::value value) {
  json::object o;
  o["id"] = id;
  o[name] = std::move(value);
  return o;
}

Task<void> delete_export(Exchange& ex, AdminDepsPtr d) {
  if (auto r = refusal(d->exports)) co_return co_await ex.send(std::move(*r));
  std::string id = ex.params().at("id");
  auto task = co_await find_task(ex, *d, id);
  if (!task) co_return;
  kx::TaskStore tasks(d->redis_for(ex));
  if (task->live()) {
    auto cancelled = co_await tasks.transition(id, "|queued|running|", "cancelled", store::HashRecord(),
                                               kx::kEndedTaskKeepSeconds);
    if (!cancelled) co_return co_await ex.send(admin_error(http::status::service_unavailable, "Service unavailable", cancelled.error().message));
    if (cancelled->applied) co_return co_await ex.send(admin_data(outcome(id, "state", "cancelled")));
    // It ended meanwhile (done: it has a file now): read it again before removing it.
    auto again = co_await find_task(ex, *d, id);
    if (!again) co_return;
    task = std::move(again);
  }
  if (!task->file.empty()) kx::remove_export_file(d->exports->dir(), task->file);
  if (auto removed = co_await tasks.remove(id); !removed)
    co_return co_await ex.send(admin_error(http::status::service_unavailable, "Service unavailable", removed.error().message));
  co_await ex.send(admin_data(outcome(id, "deleted", true)));
}

}  // namespace

void register_export_routes(http_server::Router& router, AdminDepsPtr deps) {
  using http::verb;
  add_admin_route(router, verb::post, "/admin/api-keys/export", deps,
                  [deps](Exchange& ex, const SessionClaims& who) { return start_export(ex, who, deps); });
  add_admin_route(router, verb::get, "/admin/exports", deps, [deps](Exchange& ex, const SessionClaims&) { return list_exports(ex, deps); });
  add_admin_route(router, verb::get, "/admin/exports/fields", deps,
                  [deps](Exchange& ex, const SessionClaims&) { return show_fields(ex, deps); });
  add_admin_route(router, verb::get, "/admin/exports/:id", deps, [deps](Exchange& ex, const SessionClaims&) { return show_export(ex, deps); });
  add_admin_route(router, verb::get, "/admin/exports/:id/download", deps,
                  [deps](Exchange& ex, const SessionClaims&) { return download_export(ex, deps); });
  add_admin_route(router, verb::delete_, "/admin/exports/:id", deps,
                  [deps](Exchange& ex, const SessionClaims&) { return delete_export(ex, deps); });
}

}  // namespace crs::admin

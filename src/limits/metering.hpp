#pragma once
// The metering of one I/O thread: the completions of its requests (limits/completion_batch.hpp)
// gathered into batches and written to Redis off the clients' path, with nothing lost.
//
// - A record joins the thread's open batch and its journal (usage/journal.hpp); the request
//   resumes once the journal holds it: one write() at the end of the event loop's turn for
//   every record of that turn. The client sees the end of its answer after that, not after a
//   Redis round trip.
// - A batch goes to Redis as one script call when it has `max_records`, after `linger`, or, if
//   it gives back a lease (urgent), at the end of the turn: a lease held longer than needed
//   could refuse a request of the same key. An admission on the thread sends the open batch
//   first (send_urgent): one connection, so Redis applies the batch before the admission.
// - What Redis does not take (down, the reply lost, a replica) is kept, in a queue all threads
//   of the instance share, and sent again every `retry` until it does, and before any admission
//   (send_kept_now), so the leases it gives back never count against a new request; the
//   batch's bit makes every copy after the first a no-op. After a kill -9 the next start reads
//   the journal and sends again the batches never acknowledged.
// - At shutdown, send_all_now() sends the open batch and every later one at once.
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "core/net.hpp"
#include "limits/completion_batch.hpp"
#include "store/redis_client.hpp"
#include "usage/journal.hpp"

namespace crs::limits {

struct MeteringOptions {
  std::string journal_dir;
  std::string journal_prefix;            // names this instance's journal files (holds the port)
  std::string token;                     // names this thread's batches and files in this run
  std::chrono::milliseconds linger{5};   // usage.batchMs
  size_t max_records = 256;              // usage.batchRecords
  std::chrono::milliseconds retry{250};  // how often kept batches are sent again
  size_t max_kept_records = 1'000'000;   // beyond, kept on disk only, until the next start
};

class Metering {
 public:
  // What Redis has not taken yet, shared by the metering of every I/O thread of an instance.
  struct Kept;
  static std::shared_ptr<Kept> make_kept();

  Metering(asio::any_io_executor executor, store::RedisClient& redis, MeteringOptions options,
           std::shared_ptr<Kept> kept = make_kept());
  ~Metering();
  Metering(const Metering&) = delete;
  Metering& operator=(const Metering&) = delete;

  // Call on the thread. Resumes once the record is in the journal. `urgent`: it gives back a
  // lease; then it resumes once Redis has its batch (or did not take it), so the key's next
  // request, on any thread or instance, finds the lease gone.
  Task<void> add(Completion record, bool urgent);
  // Sends the open batch now if it holds an urgent record.
  void send_urgent();
  // Whether batches of any thread wait for Redis (any thread), and sending them now, on this
  // thread's connection, waiting for the replies.
  bool has_kept() const;
  Task<void> send_kept_now();
  // From now on every batch goes out at once, the open one too. Any thread.
  void send_all_now();
  // Batches an earlier run left unacknowledged in `files`: sent again, and the files deleted
  // once Redis has them all. Call before the thread runs.
  void adopt(std::vector<JournaledBatch> batches, std::vector<usage::Journal::Leftover> files);
  // At shutdown: what Redis did not take stays in the journals only (the next start sends it).
  void forget_kept();

  int in_flight() const;   // records added and not yet answered by Redis (any thread)
  size_t kept() const;     // records waiting for Redis to take them, of every thread (any thread)

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace crs::limits

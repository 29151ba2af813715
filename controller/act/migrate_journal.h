// The migration journal: which slots are in flight, from which node to which.
//
// A JSON file rewritten atomically (WriteFileAtomic, mode 0600), so that a controller killed
// at any point finds every slot it had opened. Entries are added (durably) before a slot's
// first command; finished slots are dropped lazily and leave the file with the next write, as
// a slot listed after it finished only costs a Resolve that finds nothing to do. An entry
// whose move failed stays, with phase "failed" and the error, until Resolve() settles it.
// Thread-safe; writes from several threads at once are merged into one (group commit), since
// each write costs two fsyncs.
//
// Format: {"version": 1, "slots": [{"slot": 42, "phase": "moving",
//          "from": {"name": "a", "id": "<40 hex>", "host": "10.0.0.1", "port": 7000},
//          "to": {...}, "error": "..."}]}
#pragma once

#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "api/types/result.h"
#include "controller/act/migrate.h"

namespace sk::act {

struct JournalEntry {
  int slot = 0;
  MigrateNode from;
  MigrateNode to;
  std::string phase;  // "moving" or "failed"
  std::string error;  // for "failed"
};

std::string JournalToJson(const std::vector<JournalEntry>& entries);
// InvalidArgument naming what is wrong when `text` is not a journal.
Result<std::vector<JournalEntry>> JournalFromJson(const std::string& text);

class Journal {
 public:
  // `path` "" disables the journal: every call succeeds and nothing is written.
  explicit Journal(std::string path) : path_(std::move(path)) {}

  // Reads the file into memory (a missing file is an empty journal) and returns its entries.
  // kUnavailable when unreadable, kInvalidArgument when it is not a journal.
  Result<std::vector<JournalEntry>> Load();
  // Adds or replaces entries (by slot); returns once the file holds them. kUnavailable on
  // write failure.
  Status Put(const std::vector<JournalEntry>& entries);
  // Removes the slots' entries in memory; the file follows with the next Put or Flush.
  void Drop(const std::vector<int>& slots);
  // Removes the slots' entries and rewrites the file.
  Status Remove(const std::vector<int>& slots);
  // Writes the file if anything changed since the last write.
  Status Flush();
  bool enabled() const { return !path_.empty(); }
  const std::string& path() const { return path_; }

 private:
  // Waits until a write that includes change number `gen` is done, doing it if no other
  // thread is writing.
  Status CommitLocked(std::unique_lock<std::mutex>& lock, long long gen);

  std::string path_;
  std::mutex mu_;
  std::condition_variable written_cv_;
  std::map<int, JournalEntry> entries_;
  long long changed_ = 0;  // number of the last change to entries_
  long long written_ = 0;  // the last change the file holds
  bool writing_ = false;
};

}  // namespace sk::act

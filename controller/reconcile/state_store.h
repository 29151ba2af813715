// StateStore: what a cluster's controller keeps in the state dir (--state-dir, default
// ./.slotkeeper), under <state-dir>/clusters/<name>/:
//   identity.json  formed flag + node name -> node ID, and every ID ever ours
//   status.json    the last published status (CONTRACT.md section 4 shape)
//   events.json    the newest events first, bounded
//   spec.json      the managed spec, its generation and the slot layout after a reshard
//   operation.json a scale operation in progress: where it started and what it retired
//   migration.json the migration journal (act/migrate_journal.h)
// Every write is atomic (temp file + fsync + rename), so a crash leaves the old or the new.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "api/types/result.h"
#include "api/types/slot_range.h"
#include "api/types/spec.h"

namespace sk::reconcile {

struct Identity {
  bool formed = false;  // reached full coverage once: lost slots are never re-created empty
  std::map<std::string, std::string> node_ids;  // stable name -> node ID
  std::set<std::string> known_ids;              // every node ID that was ever ours
};

// spec.json.
struct SpecRecord {
  ClusterSpec spec;
  long long generation = 1;
  std::vector<std::vector<SlotRange>> layout;  // per shard; {} = the spec's arithmetic
};

// operation.json: a scale operation that has not succeeded yet (kept when it fails, so that
// the next start tries again).
struct OperationRecord {
  ClusterSpec from;
  long long generation = 0;          // the spec generation it applies
  std::vector<std::string> retired;  // leaving nodes stopped and deleted already
};

class StateStore {
 public:
  // `dir` is the cluster's own directory; "" keeps everything in memory only.
  explicit StateStore(std::string dir) : dir_(std::move(dir)) {}
  static std::string ClusterDir(const std::string& state_dir, const std::string& name);

  // A missing file is an empty Identity; a corrupt one is kInternal naming the file.
  Result<Identity> LoadIdentity() const;
  Status SaveIdentity(const Identity& id) const;
  Status SaveFile(const std::string& name, const std::string& content) const;
  const std::string& dir() const { return dir_; }

  // nullopt when the file does not exist; kInternal naming the file when it is corrupt.
  Result<std::optional<SpecRecord>> LoadSpec() const;
  Status SaveSpec(const SpecRecord& r) const;
  Result<std::optional<OperationRecord>> LoadOperation() const;
  Status SaveOperation(const OperationRecord& r) const;
  Status RemoveFile(const std::string& name) const;
  // The whole directory: every file above, nothing else is kept there.
  Status RemoveAll() const;

 private:
  std::string dir_;
};

}  // namespace sk::reconcile

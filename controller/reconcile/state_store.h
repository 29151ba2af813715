// StateStore: what a cluster's controller keeps in the state dir (--state-dir, default
// ./.slotkeeper), under <state-dir>/clusters/<name>/:
//   identity.json  formed flag + node name -> node ID, and every ID ever ours
//   status.json    the last published status (CONTRACT.md section 4 shape)
//   events.json    the newest events first, bounded
// Every write is atomic (temp file + fsync + rename), so a crash leaves the old or the new.
#pragma once

#include <map>
#include <set>
#include <string>

#include "api/types/result.h"

namespace sk::reconcile {

struct Identity {
  bool formed = false;  // reached full coverage once: lost slots are never re-created empty
  std::map<std::string, std::string> node_ids;  // stable name -> node ID
  std::set<std::string> known_ids;              // every node ID that was ever ours
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

 private:
  std::string dir_;
};

}  // namespace sk::reconcile

#include "controller/act/migrate_journal.h"

#include <nlohmann/json.hpp>

#include "api/types/files.h"
#include "api/types/slot_range.h"

namespace sk::act {
namespace {

using nlohmann::json;

json NodeToJson(const MigrateNode& n) {
  return {{"name", n.name}, {"id", n.id}, {"host", n.ep.host}, {"port", n.ep.port}};
}

MigrateNode NodeFromJson(const json& j) {
  MigrateNode n;
  n.name = j.at("name").get<std::string>();
  n.id = j.at("id").get<std::string>();
  n.ep.host = j.at("host").get<std::string>();
  n.ep.port = j.at("port").get<int>();
  return n;
}

}  // namespace

std::string JournalToJson(const std::vector<JournalEntry>& entries) {
  json slots = json::array();
  for (const JournalEntry& e : entries) {
    json j = {{"slot", e.slot},
              {"phase", e.phase},
              {"from", NodeToJson(e.from)},
              {"to", NodeToJson(e.to)}};
    if (!e.error.empty()) j["error"] = e.error;
    slots.push_back(std::move(j));
  }
  return json{{"version", 1}, {"slots", std::move(slots)}}.dump(2) + "\n";
}

Result<std::vector<JournalEntry>> JournalFromJson(const std::string& text) {
  // nlohmann throws; exceptions stop here (STYLE.md section 3).
  try {
    json doc = json::parse(text);
    if (doc.value("version", 0) != 1) {
      return InvalidArgument("migration journal: unknown version (expected 1)");
    }
    std::vector<JournalEntry> out;
    for (const json& j : doc.at("slots")) {
      JournalEntry e;
      e.slot = j.at("slot").get<int>();
      if (e.slot < 0 || e.slot >= kSlots) {
        return InvalidArgument("migration journal: slot " + std::to_string(e.slot) +
                               " is outside 0..16383");
      }
      e.phase = j.value("phase", "moving");
      e.error = j.value("error", "");
      e.from = NodeFromJson(j.at("from"));
      e.to = NodeFromJson(j.at("to"));
      out.push_back(std::move(e));
    }
    return out;
  } catch (const json::exception& ex) {
    return InvalidArgument(std::string("migration journal: ") + ex.what());
  }
}

Result<std::vector<JournalEntry>> Journal::Load() {
  std::lock_guard<std::mutex> lock(mu_);
  entries_.clear();
  if (path_.empty()) return std::vector<JournalEntry>{};
  Result<std::string> text = ReadFile(path_);
  if (!text.ok()) {
    if (text.error().code() == Code::kNotFound) return std::vector<JournalEntry>{};
    return std::move(text).error();
  }
  SK_ASSIGN_OR_RETURN(std::vector<JournalEntry> entries, JournalFromJson(*text));
  for (const JournalEntry& e : entries) entries_[e.slot] = e;
  return entries;
}

Status Journal::Put(const std::vector<JournalEntry>& entries) {
  if (path_.empty() || entries.empty()) return Status::Ok();
  std::unique_lock<std::mutex> lock(mu_);
  for (const JournalEntry& e : entries) entries_[e.slot] = e;
  return CommitLocked(lock, ++changed_);
}

void Journal::Drop(const std::vector<int>& slots) {
  if (path_.empty() || slots.empty()) return;
  std::lock_guard<std::mutex> lock(mu_);
  for (int s : slots) entries_.erase(s);
  ++changed_;
}

Status Journal::Remove(const std::vector<int>& slots) {
  Drop(slots);
  return Flush();
}

Status Journal::Flush() {
  if (path_.empty()) return Status::Ok();
  std::unique_lock<std::mutex> lock(mu_);
  return CommitLocked(lock, changed_);
}

Status Journal::CommitLocked(std::unique_lock<std::mutex>& lock, long long gen) {
  while (written_ < gen) {
    if (writing_) {
      // Another thread writes a snapshot; ours may be in it (or goes in the next one).
      written_cv_.wait(lock);
      continue;
    }
    writing_ = true;
    const long long snapshot_gen = changed_;
    std::vector<JournalEntry> all;
    all.reserve(entries_.size());
    for (const auto& [slot, e] : entries_) all.push_back(e);
    lock.unlock();
    // 0600: the file names the cluster's nodes and addresses; no other user needs them.
    Status st = WriteFileAtomic(path_, JournalToJson(all), 0600);
    lock.lock();
    writing_ = false;
    if (st.ok()) written_ = std::max(written_, snapshot_gen);
    written_cv_.notify_all();
    if (!st.ok()) return st;
  }
  return Status::Ok();
}

}  // namespace sk::act

#include "tests/unit/plan/observed_builder.h"

#include <stdexcept>

#include "api/types/slot_range.h"

namespace sk::testing {

model::ObservedNode& ObservedBuilder::N(const std::string& name) {
  for (auto& n : o_.nodes) {
    if (n.name == name) return n;
  }
  throw std::runtime_error("no node " + name);
}

model::PeerView& ObservedBuilder::Self(model::ObservedNode& n) {
  for (auto& p : n.peers) {
    if (p.myself) return p;
  }
  throw std::runtime_error("no self");
}

ObservedBuilder& ObservedBuilder::Fresh(const std::string& name, const std::string& host) {
  model::ObservedNode n;
  n.name = name;
  n.ep = Endpoint{"127.0.0.1", 7000 + static_cast<int>(o_.nodes.size())};
  n.host = host;
  n.reachable = true;
  n.id = std::string(40 - name.size(), '0') + name;
  n.cluster_state = "fail";
  n.known_nodes = 1;
  n.repl.role = "master";
  n.version = "7.0.15";
  n.config["repl-diskless-sync-delay"] = "5";
  n.peers.push_back({.id = n.id, .ep = n.ep, .myself = true, .master = true, .connected = true});
  o_.nodes.push_back(n);
  return *this;
}

ObservedBuilder& ObservedBuilder::Master(const std::string& name, const std::string& host,
                                         std::vector<SlotRange> ranges, long long epoch) {
  Fresh(name, host);
  auto& n = N(name);
  Self(n).slots = std::move(ranges);
  Self(n).config_epoch = epoch;
  n.current_epoch = epoch;
  return *this;
}

ObservedBuilder& ObservedBuilder::Keys(const std::string& name, long long keys) {
  N(name).keys = keys;
  return *this;
}

ObservedBuilder& ObservedBuilder::Id(const std::string& name, const std::string& id) {
  auto& n = N(name);
  n.id = id;
  Self(n).id = id;
  return *this;
}

void ObservedBuilder::Refresh() {
  // Every non-self entry mirrors the subject's own entry.
  for (auto& viewer : o_.nodes) {
    for (auto& p : viewer.peers) {
      if (p.myself || p.handshake) continue;
      for (auto& subject : o_.nodes) {
        if (subject.id == p.id) {
          p = Self(subject);
          p.myself = false;
        }
      }
    }
    viewer.known_nodes = static_cast<int>(viewer.peers.size());
  }
}

ObservedBuilder& ObservedBuilder::Knows(const std::string& a, const std::string& b,
                                        bool handshake) {
  auto& viewer = N(a);
  auto& subject = N(b);
  model::PeerView p = Self(subject);
  p.myself = false;
  if (handshake) {
    p.id = "ffffffffffffffffffffffffffffffffffff" + std::to_string(viewer.peers.size() + 1000);
    p.handshake = true;
    p.slots.clear();
    p.master = true;
  }
  viewer.peers.push_back(p);
  viewer.known_nodes = static_cast<int>(viewer.peers.size());
  return *this;
}

ObservedBuilder& ObservedBuilder::JoinAll() {
  for (auto& a : o_.nodes) {
    for (auto& b : o_.nodes) {
      if (&a == &b || a.PeerById(b.id)) continue;
      model::PeerView p = Self(b);
      p.myself = false;
      a.peers.push_back(p);
    }
    a.known_nodes = static_cast<int>(a.peers.size());
  }
  return *this;
}

ObservedBuilder& ObservedBuilder::ReplicaOf(const std::string& replica, const std::string& master,
                                            bool link_up) {
  auto& r = N(replica);
  auto& self = Self(r);
  self.master = false;
  self.replica = true;
  self.master_id = N(master).id;
  r.repl.role = "slave";
  r.repl.link_up = link_up;
  Refresh();
  return *this;
}

ObservedBuilder& ObservedBuilder::Unreachable(const std::string& name) {
  auto& n = N(name);
  n.reachable = false;
  n.error = "Connection refused";
  return *this;
}

ObservedBuilder& ObservedBuilder::StateOk() {
  for (auto& n : o_.nodes) n.cluster_state = "ok";
  return *this;
}

ObservedBuilder& ObservedBuilder::Config(const std::string& key, const std::string& value) {
  for (auto& n : o_.nodes) n.config[key] = value;
  return *this;
}

ObservedBuilder& ObservedBuilder::ForeignPeer(const std::string& name, const std::string& id,
                                              Endpoint ep) {
  auto& n = N(name);
  n.peers.push_back({.id = id, .ep = ep, .master = true, .connected = true});
  n.known_nodes = static_cast<int>(n.peers.size());
  return *this;
}

model::DesiredCluster ObservedBuilder::Desired(int masters, int replicas) const {
  model::DesiredCluster d;
  d.name = "demo";
  d.masters = masters;
  d.replicas_per_master = replicas;
  d.shard_slots = EvenSplit(masters);
  for (const auto& n : o_.nodes) d.nodes.push_back({n.name, n.ep, n.host, ""});
  d.runtime_config = {{"repl-diskless-sync-delay", "5"}};
  return d;
}

}  // namespace sk::testing

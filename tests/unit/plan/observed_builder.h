// Builds ObservedClusters for planner tests: nodes with their own views, joined or not.
#pragma once

#include <string>
#include <vector>

#include "controller/model/model.h"

namespace sk::testing {

class ObservedBuilder {
 public:
  // A fresh node "n<i>" at 127.0.0.1:7000+i on `host`.
  ObservedBuilder& Fresh(const std::string& name, const std::string& host = "h1");
  // A node that already owns `ranges` (own view), epoch `epoch`.
  ObservedBuilder& Master(const std::string& name, const std::string& host,
                          std::vector<SlotRange> ranges, long long epoch = 1);
  ObservedBuilder& Keys(const std::string& name, long long keys);
  ObservedBuilder& Id(const std::string& name, const std::string& id);
  // Makes every node know every other (views copied from each node's own entry).
  ObservedBuilder& JoinAll();
  // `a` knows `b` (one direction), optionally as a handshake entry.
  ObservedBuilder& Knows(const std::string& a, const std::string& b, bool handshake = false);
  ObservedBuilder& ReplicaOf(const std::string& replica, const std::string& master,
                             bool link_up = true);
  ObservedBuilder& Unreachable(const std::string& name);
  ObservedBuilder& StateOk();
  ObservedBuilder& Config(const std::string& key, const std::string& value);
  // A peer entry on `name` for a node that is not part of the spec.
  ObservedBuilder& ForeignPeer(const std::string& name, const std::string& id, Endpoint ep);

  model::ObservedCluster Build() const { return o_; }
  // Desired cluster over the built nodes with an even split.
  model::DesiredCluster Desired(int masters, int replicas) const;

 private:
  model::ObservedNode& N(const std::string& name);
  model::PeerView& Self(model::ObservedNode& n);
  void Refresh();
  model::ObservedCluster o_;
};

}  // namespace sk::testing

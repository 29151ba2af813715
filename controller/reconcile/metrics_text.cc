#include "controller/reconcile/metrics_text.h"

#include <map>
#include <sstream>

#include "api/codec/status_codec.h"

namespace sk::reconcile {

namespace {

// A label value as Prometheus reads it: backslash, quote and newline escaped.
std::string Label(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

std::string MetricsText(const std::vector<ClusterMetrics>& clusters,
                        const std::vector<Operation>& running) {
  std::ostringstream o;
  auto head = [&o](const char* name, const char* type, const char* help) {
    o << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
  };
  head("slotkeeper_cluster_state", "gauge",
       "1 when every node of the cluster reports cluster_state:ok.");
  for (const ClusterMetrics& m : clusters) {
    o << "slotkeeper_cluster_state{cluster=\"" << m.name << "\"} "
      << (m.status.cluster_state == "ok" ? 1 : 0) << "\n";
  }
  head("slotkeeper_cluster_phase", "gauge", "1 for the cluster's current phase.");
  for (const ClusterMetrics& m : clusters) {
    for (Phase p : {Phase::kCreating, Phase::kReady, Phase::kScaling, Phase::kHealing,
                    Phase::kDegraded, Phase::kFailed}) {
      o << "slotkeeper_cluster_phase{cluster=\"" << m.name << "\",phase=\"" << codec::Name(p)
        << "\"} " << (m.status.phase == p ? 1 : 0) << "\n";
    }
  }
  head("slotkeeper_cluster_slots", "gauge", "Slots by state, as the worst node sees them.");
  head("slotkeeper_cluster_nodes", "gauge", "Nodes by role and link state.");
  head("slotkeeper_cluster_open_slots", "gauge", "Slots left MIGRATING or IMPORTING.");
  for (const ClusterMetrics& m : clusters) {
    const ClusterStatus& s = m.status;
    const std::string c = "cluster=\"" + m.name + "\"";
    o << "slotkeeper_cluster_slots{" << c << ",state=\"assigned\"} " << s.slots_assigned << "\n"
      << "slotkeeper_cluster_slots{" << c << ",state=\"ok\"} " << s.slots_ok << "\n"
      << "slotkeeper_cluster_slots{" << c << ",state=\"pfail\"} " << s.slots_pfail << "\n"
      << "slotkeeper_cluster_slots{" << c << ",state=\"fail\"} " << s.slots_fail << "\n";
    std::map<std::pair<std::string_view, std::string_view>, int> nodes;
    for (const NodeStatus& n : s.nodes) nodes[{codec::Name(n.role), codec::Name(n.link_state)}]++;
    for (const auto& [k, v] : nodes) {
      o << "slotkeeper_cluster_nodes{" << c << ",role=\"" << Label(k.first) << "\",link=\""
        << Label(k.second) << "\"} " << v << "\n";
    }
    o << "slotkeeper_cluster_open_slots{" << c << "} " << s.open_slots.size() << "\n";
  }
  head("slotkeeper_node_used_memory_bytes", "gauge", "used_memory of each node.");
  head("slotkeeper_node_ops_per_second", "gauge", "instantaneous_ops_per_sec of each node.");
  head("slotkeeper_node_replication_lag_bytes", "gauge",
       "Bytes of its master's stream a linked replica has not applied.");
  for (const ClusterMetrics& m : clusters) {
    for (const NodeStatus& n : m.status.nodes) {
      if (n.role == Role::kUnknown) continue;
      const std::string l = "cluster=\"" + m.name + "\",node=\"" + Label(n.name) + "\"";
      o << "slotkeeper_node_used_memory_bytes{" << l << "} " << n.used_memory << "\n"
        << "slotkeeper_node_ops_per_second{" << l << "} " << n.ops_per_sec << "\n";
      if (n.repl_lag_bytes >= 0) {
        o << "slotkeeper_node_replication_lag_bytes{" << l << "} " << n.repl_lag_bytes << "\n";
      }
    }
  }
  head("slotkeeper_reconcile_duration_seconds", "histogram", "Observe and plan time of a pass.");
  head("slotkeeper_reconcile_total", "counter", "Reconcile passes by result.");
  head("slotkeeper_actions_total", "counter", "Actions taken by kind.");
  head("slotkeeper_action_failures_total", "counter", "Actions that failed by kind.");
  for (const ClusterMetrics& m : clusters) {
    const ReconcileCounters& k = m.counters;
    const std::string c = "cluster=\"" + m.name + "\"";
    long long cumulative = 0;
    constexpr size_t kBuckets = sizeof kDurationBuckets / sizeof kDurationBuckets[0];
    for (size_t b = 0; b <= kBuckets; ++b) {
      cumulative += b < k.duration_buckets.size() ? k.duration_buckets[b] : 0;
      o << "slotkeeper_reconcile_duration_seconds_bucket{" << c << ",le=\"";
      if (b < kBuckets) {
        o << kDurationBuckets[b];
      } else {
        o << "+Inf";
      }
      o << "\"} " << cumulative << "\n";
    }
    o << "slotkeeper_reconcile_duration_seconds_sum{" << c << "} " << k.duration_sum_seconds << "\n"
      << "slotkeeper_reconcile_duration_seconds_count{" << c << "} " << k.passes << "\n";
    for (const auto& [r, v] : k.results) {
      o << "slotkeeper_reconcile_total{" << c << ",result=\"" << r << "\"} " << v << "\n";
    }
    for (const auto& [kind, v] : k.actions) {
      o << "slotkeeper_actions_total{" << c << ",kind=\"" << kind << "\"} " << v << "\n";
    }
    for (const auto& [kind, v] : k.failures) {
      o << "slotkeeper_action_failures_total{" << c << ",kind=\"" << kind << "\"} " << v << "\n";
    }
  }
  head("slotkeeper_slots_migrated_total", "counter", "Slots moved between masters.");
  head("slotkeeper_keys_migrated_total", "counter", "Keys moved between masters.");
  for (const ClusterMetrics& m : clusters) {
    o << "slotkeeper_slots_migrated_total{cluster=\"" << m.name << "\"} "
      << m.counters.slots_migrated << "\n"
      << "slotkeeper_keys_migrated_total{cluster=\"" << m.name << "\"} " << m.counters.keys_migrated
      << "\n";
  }
  head("slotkeeper_operation_progress", "gauge", "Progress (0..1) of running operations.");
  for (const Operation& op : running) {
    o << "slotkeeper_operation_progress{cluster=\"" << op.cluster << "\",operation=\"" << op.id
      << "\",kind=\"" << codec::Name(op.kind) << "\"} " << op.progress << "\n";
  }
  return o.str();
}

}  // namespace sk::reconcile

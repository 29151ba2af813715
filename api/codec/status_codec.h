// ClusterStatus / Event -> JSON, in the shape of CONTRACT.md section 4, and the one place where
// the typed phase, role, link state, condition status and operation kind/state are spelled
// as the contract's strings (and read back from them).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/types/cluster_service.h"
#include "api/types/status.h"

namespace sk::codec {

std::string StatusToJson(const ClusterStatus& status, int indent = -1);
std::string EventsToJson(const std::vector<Event>& events, int indent = -1);

std::string_view Name(Phase p);            // "Ready", ...
std::string_view Name(Role r);             // "master" | "replica" | "unknown"
std::string_view Name(LinkState l);        // "connected" | "disconnected"
std::string_view Name(ConditionStatus s);  // "True" | "False" | "Unknown"
std::string_view Name(OperationKind k);    // "scale", "recover-slots", ...
std::string_view Name(OperationState s);   // "running" | "succeeded" | "failed"
std::optional<Phase> ParsePhase(std::string_view text);
std::optional<OperationState> ParseOperationState(std::string_view text);

}  // namespace sk::codec

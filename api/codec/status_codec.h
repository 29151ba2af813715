// ClusterStatus / Event -> JSON, in the shape of CONTRACT.md section 4.
#pragma once

#include <string>
#include <vector>

#include "api/types/status.h"

namespace sk::codec {

std::string StatusToJson(const ClusterStatus& status, int indent = -1);
std::string EventsToJson(const std::vector<Event>& events, int indent = -1);

}  // namespace sk::codec

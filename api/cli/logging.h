// Log setup for every subcommand: spdlog to stderr, human-readable by default, one JSON object
// per line with --log-format json. Secrets never reach a log line: they are kept in
// Redacted<> values and passed to Redis only through config files and AUTH.
#pragma once

#include <string>

#include "api/types/result.h"

namespace sk::cli {

// format: "text" or "json"; level: trace|debug|info|warn|error. InvalidArgument otherwise.
Status SetupLogging(const std::string& format, const std::string& level);

}  // namespace sk::cli

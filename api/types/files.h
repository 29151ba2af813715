// Small file-system helpers shared by the agent and the controller's state dir (POSIX only).
#pragma once

#include <string>
#include <string_view>

#include "api/types/result.h"

namespace sk {

// Writes `content` to a temp file beside `path`, fsyncs it, sets `mode`, renames it over
// `path` and fsyncs the directory: readers see the old or the new file, never half of one.
// kUnavailable names the path and errno text on failure.
Status WriteFileAtomic(const std::string& path, std::string_view content, unsigned mode);
// Whole file; kNotFound when missing, kUnavailable on other errors.
Result<std::string> ReadFile(const std::string& path);
// mkdir -p; kUnavailable naming the first directory that cannot be made.
Status MakeDirs(const std::string& path, unsigned mode = 0755);
// Absolute, lexically normalised path (relative paths are taken from the current directory).
std::string AbsolutePath(const std::string& path);
// Removes a directory tree; Ok when it does not exist.
Status RemoveTree(const std::string& path);

}  // namespace sk

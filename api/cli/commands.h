// The subcommands of the slotkeeper binary (CONTRACT.md section 3). Each takes the arguments
// after its verb and returns the process exit code: 0 success, 1 failure, 2 usage or invalid
// spec.
#pragma once

#include <string>
#include <vector>

namespace sk::cli {

int RunUp(const std::vector<std::string>& argv);
int RunController(const std::vector<std::string>& argv);
int RunDown(const std::vector<std::string>& argv);
int RunRender(const std::vector<std::string>& argv);
int RunPlan(const std::vector<std::string>& argv);
int RunCheck(const std::vector<std::string>& argv);
int RunKeyslot(const std::vector<std::string>& argv);
int RunVersion(const std::vector<std::string>& argv);

}  // namespace sk::cli

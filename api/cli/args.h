// A small command-line parser: "--name value", "--name=value", boolean flags, positionals.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "api/types/result.h"

namespace sk::cli {

struct ArgSpec {
  std::set<std::string> with_value;  // e.g. "-f", "--api"
  std::set<std::string> flags;       // e.g. "--purge", "--wait"
};

struct Args {
  std::map<std::string, std::string> values;
  std::set<std::string> flags;
  std::vector<std::string> positional;

  bool Has(const std::string& name) const { return values.count(name) || flags.count(name); }
  std::string Get(const std::string& name, const std::string& fallback = "") const {
    auto it = values.find(name);
    return it == values.end() ? fallback : it->second;
  }
};

// `verb` names the subcommand in errors ("unknown option --x for 'up'").
Result<Args> ParseArgs(const std::string& verb, const std::vector<std::string>& argv,
                       const ArgSpec& spec);

}  // namespace sk::cli

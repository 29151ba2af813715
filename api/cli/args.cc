#include "api/cli/args.h"

namespace sk::cli {

Result<Args> ParseArgs(const std::string& verb, const std::vector<std::string>& argv,
                       const ArgSpec& spec) {
  Args out;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a.size() < 2 || a[0] != '-' || a == "--") {
      out.positional.push_back(a);
      continue;
    }
    std::string name = a;
    std::string value;
    bool inline_value = false;
    if (auto eq = a.find('='); eq != std::string::npos && a.rfind("--", 0) == 0) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
      inline_value = true;
    }
    if (spec.flags.count(name)) {
      if (inline_value) return InvalidArgument(name + " takes no value");
      out.flags.insert(name);
      continue;
    }
    if (!spec.with_value.count(name)) {
      return InvalidArgument("unknown option " + name + " for '" + verb +
                             "'; run 'slotkeeper help' for usage");
    }
    if (!inline_value) {
      if (i + 1 >= argv.size()) return InvalidArgument(name + " needs a value");
      value = argv[++i];
    }
    out.values[name] = value;
  }
  return out;
}

}  // namespace sk::cli

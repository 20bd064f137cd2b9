// Control-socket requests (docs/controlplane.md, "Control socket"): one JSON object per line,
// `{"cmd":"NAME", "arg":"value", ...}`. A pure function, so that the fuzz build (lib/ only) covers
// it and the control plane's socket thread only does I/O.
//
// Parsing is iterative (RapidJSON kParseIterativeFlag, no recursion whatever the input) and
// stops at kControlRequestMaxDepth levels of nesting with an error that says so; no DOM is built.
// Rules: valid UTF-8 (a lone surrogate escape is an error); the root must be an object; only JSON whitespace after it; a string member
// "cmd" is required; the other top-level string members are the arguments (in document order);
// members of other types and anything nested are checked for syntax and ignored; a repeated
// top-level member name is an error; at most kControlRequestMaxBytes bytes.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/result.hpp"

namespace rustun {

inline constexpr size_t kControlRequestMaxBytes = 65536;  // one request line, without its '\n'
inline constexpr unsigned kControlRequestMaxDepth = 16;   // nested objects/arrays, root included

struct ControlRequest {
    std::string cmd;
    std::vector<std::pair<std::string, std::string>> args;  // top-level string members but "cmd"

    // The value of string argument `name`, or "" when absent.
    std::string arg(std::string_view name) const;
};

// Errors are short sentences meant for the `error` member of the answer.
Result<ControlRequest> parse_control_request(std::string_view line);

}  // namespace rustun

// Importer for the reference server's routes.json (docs/protocol.md, "The reference routes.json"): a JSON array of client objects.
//
// Members: `cluster`, `identity`, `private_ip`, `mask`, `gateway` (strings) and `ciders` (array
// of strings) are required; `name` (string, default "") and `cider_mapping` (object string ->
// string, order kept) are optional; unknown members are ignored (any JSON value, nested at most
// kMaxIgnoredNesting levels). Stricter than the reference, on purpose:
//  * every address, mask and CIDR is validated (the reference skips unparsable CIDRs silently);
//  * a duplicate identity is an error naming both entries (the reference keeps the last one);
//  * a private_ip used twice in one cluster is an error;
//  * a member given twice in one object is an error; the text must be valid UTF-8.
// Errors name the file, the line and column (1-based, column in characters), the array index and
// the member, e.g. `routes.json: line 3, column 52: [1].private_ip: expected an IPv4 address ...`.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/client_checks.hpp"
#include "util/result.hpp"

namespace rustun {

inline constexpr int kMaxIgnoredNesting = 64;

// One array element, in file order. client.origin is "<file>: line L, column C: [i]".
using RoutesJsonEntry = LocatedClient;

// `filename` is used in error messages only. Never throws; never crashes on any input.
Result<std::vector<RoutesJsonEntry>> parse_routes_json(std::string_view text,
                                                       std::string_view filename);

// Reads `path` (read_text_file) and parses it; a read error is "<path>: cannot read ...".
Result<std::vector<RoutesJsonEntry>> load_routes_json_file(const std::string& path);

}  // namespace rustun

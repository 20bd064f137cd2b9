// Where a configuration value came from, for error messages and diagnostics.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "util/result.hpp"

namespace rustun {

struct SourceRef {
    std::string file;      // as given to the loader (or resolved clients_file path)
    uint32_t line = 0;     // 1-based; 0 = not known (the error is about the whole file)
    uint32_t column = 0;   // 1-based, counted in characters (UTF-8 code points); 0 = not known
    std::string path;      // key path, e.g. "clusters[0].clients[1].private_ip" or "[2].ciders[0]"

    // "file: line L, column C: path" (parts that are not known are left out).
    std::string to_string() const;
};

// "<where>: <what>", the one format of every configuration error.
inline Error error_at(const SourceRef& where, std::string_view what) {
    return make_error(where.to_string() + ": " + std::string(what));
}

// Quotes a user-provided string for an error message, escaping control characters and cutting
// it at 80 bytes (so that a huge or binary value cannot flood a log line).
std::string quote_for_error(std::string_view s);

}  // namespace rustun

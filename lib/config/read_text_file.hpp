// Reads a whole configuration file into memory.
#pragma once

#include <cstddef>
#include <string>

#include "util/result.hpp"

namespace rustun {

// Upper bound on a configuration or routes.json file (a million clients take about 250 MiB of
// routes.json); larger files are refused rather than exhausting memory.
inline constexpr size_t kMaxConfigFileBytes = size_t{512} << 20;

// The file's bytes, or an error "cannot read "<path>": <reason>" (no file name prefix: callers
// say which key referred to the file).
Result<std::string> read_text_file(const std::string& path);

}  // namespace rustun

// Hex encoding helpers for tests, logs and tools (not for the hot path).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rustun {

std::string to_hex(const uint8_t* data, size_t len);
inline std::string to_hex(const std::vector<uint8_t>& v) { return to_hex(v.data(), v.size()); }
// Returns false on odd length or a non-hex character.
bool from_hex(std::string_view hex, std::vector<uint8_t>& out);

}  // namespace rustun

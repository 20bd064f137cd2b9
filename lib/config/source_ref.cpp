#include "config/source_ref.hpp"

#include <cstdio>

namespace rustun {

std::string SourceRef::to_string() const {
    std::string s = file;
    if (line != 0) {
        s += ": line " + std::to_string(line);
        if (column != 0) s += ", column " + std::to_string(column);
    }
    if (!path.empty()) s += ": " + path;
    return s;
}

std::string quote_for_error(std::string_view s) {
    constexpr size_t kMax = 80;
    std::string out = "\"";
    for (size_t i = 0; i < s.size() && i < kMax; ++i) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20 || c == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    if (s.size() > kMax) out += "...";
    out += '"';
    return out;
}

}  // namespace rustun

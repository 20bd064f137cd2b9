#include "proto/json_writer.hpp"

#include <charconv>

namespace rustun {

namespace {

constexpr char kHexLower[] = "0123456789abcdef";

// Bytes serde_json escapes; all others (including >= 0x7F) are copied verbatim.
inline bool needs_escape(unsigned char c) { return c < 0x20 || c == '"' || c == '\\'; }

void append_escaped(std::string& out, std::string_view s) {
    out.push_back('"');
    size_t run_start = 0;  // start of the pending verbatim run in s
    for (size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (!needs_escape(c)) continue;
        out.append(s.data() + run_start, i - run_start);
        run_start = i + 1;
        switch (c) {
            case '"': out.append("\\\""); break;
            case '\\': out.append("\\\\"); break;
            case '\b': out.append("\\b"); break;
            case '\f': out.append("\\f"); break;
            case '\n': out.append("\\n"); break;
            case '\r': out.append("\\r"); break;
            case '\t': out.append("\\t"); break;
            default: {
                const char esc[6] = {'\\', 'u', '0', '0', kHexLower[c >> 4], kHexLower[c & 0xF]};
                out.append(esc, sizeof(esc));
            }
        }
    }
    out.append(s.data() + run_start, s.size() - run_start);
    out.push_back('"');
}

}  // namespace

void json_append_string(std::string& out, std::string_view value) { append_escaped(out, value); }

void JsonWriter::separator() {
    if (need_comma_) out_.push_back(',');
}

void JsonWriter::begin_object() {
    separator();
    out_.push_back('{');
    need_comma_ = false;
}

void JsonWriter::end_object() {
    out_.push_back('}');
    need_comma_ = true;
}

void JsonWriter::begin_array() {
    separator();
    out_.push_back('[');
    need_comma_ = false;
}

void JsonWriter::end_array() {
    out_.push_back(']');
    need_comma_ = true;
}

void JsonWriter::key(std::string_view name) {
    separator();
    append_escaped(out_, name);
    out_.push_back(':');
    need_comma_ = false;
}

void JsonWriter::string(std::string_view value) {
    separator();
    append_escaped(out_, value);
    need_comma_ = true;
}

void JsonWriter::uint(uint64_t value) {
    separator();
    char buf[20];  // 2^64-1 has 20 decimal digits
    const auto res = std::to_chars(buf, buf + sizeof(buf), value);
    out_.append(buf, static_cast<size_t>(res.ptr - buf));
    need_comma_ = true;
}

void JsonWriter::boolean(bool value) {
    separator();
    out_.append(value ? "true" : "false");
    need_comma_ = true;
}

}  // namespace rustun

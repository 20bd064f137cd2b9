// Compact JSON writer, byte-identical to serde_json::to_string for the values our frame
// bodies contain (docs/protocol.md, "JSON encoding"): no whitespace, members in the order the caller writes them,
// unsigned integers in plain decimal, strings escaped per the serde_json table
// (\" \\ \b \f \n \r \t, other U+0000..U+001F as \u00xx lower-case, everything else verbatim,
// including '/', U+007F and raw UTF-8).
//
// Precondition on every string argument: valid UTF-8 (serde strings always are). The writer does
// not check it; decoded strings from json_reader satisfy it, configuration must validate its own.
// Structure (matching begin/end, a key before each member value) is the caller's
// responsibility; the writer only inserts the commas.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace rustun {

class JsonWriter {
public:
    // Appends to `out`; existing content is kept (the caller may have reserved a frame header).
    explicit JsonWriter(std::string& out) : out_(out) {}

    void begin_object();
    void end_object();
    void begin_array();
    void end_array();
    // Object member name; the next call writes its value.
    void key(std::string_view name);
    void string(std::string_view value);
    void uint(uint64_t value);
    // `true` / `false` (status documents; frame bodies carry no booleans).
    void boolean(bool value);

    // Convenience: key + value.
    void member(std::string_view name, std::string_view value) { key(name); string(value); }
    void member_uint(std::string_view name, uint64_t value) { key(name); uint(value); }
    void member_bool(std::string_view name, bool value) { key(name); boolean(value); }

private:
    void separator();
    void write_escaped(std::string_view s);

    std::string& out_;
    // True when the next value or key is not the first in its container (needs a comma).
    bool need_comma_ = false;
};

// Appends the serde_json text of one string (with quotes) to out.
void json_append_string(std::string& out, std::string_view value);

}  // namespace rustun

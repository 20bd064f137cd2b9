// libFuzzer target for the control-socket request parser (lib/proto/control_request.hpp): the
// input is one request line. Whatever the input: no crash (deep nesting included: the parser is
// iterative and stops at kControlRequestMaxDepth), no leak. An accepted request, written back as
// {"cmd":...,args...}, must parse again to the same command and arguments.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "proto/control_request.hpp"
#include "proto/json_writer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view line(reinterpret_cast<const char*>(data), size);
    auto r = rustun::parse_control_request(line);
    if (!r.ok()) {
        if (r.error().empty()) std::abort();
        return 0;
    }
    std::string again = "{\"cmd\":";
    rustun::json_append_string(again, r->cmd);
    for (const auto& [k, v] : r->args) {
        again.push_back(',');
        rustun::json_append_string(again, k);
        again.push_back(':');
        rustun::json_append_string(again, v);
    }
    again.push_back('}');
    auto r2 = rustun::parse_control_request(again);
    if (!r2.ok() || r2->cmd != r->cmd || r2->args != r->args) std::abort();
    return 0;
}

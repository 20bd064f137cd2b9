#include "proto/control_request.hpp"

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <unordered_set>

namespace rustun {

namespace {

// RapidJSON 1.1 decodes a lone low surrogate escape (\uDC00..\uDFFF) to the 3-byte sequence
// ED B0..BF xx, which is not UTF-8; validated raw input never has ED followed by A0..BF.
bool has_encoded_surrogate(const char* s, size_t n) {
    for (size_t i = 0; i + 1 < n; ++i)
        if (static_cast<unsigned char>(s[i]) == 0xED && static_cast<unsigned char>(s[i + 1]) >= 0xA0) return true;
    return false;
}

// SAX handler: tracks the nesting depth, keeps the top-level string members, refuses what the
// rules above refuse. Returning false stops the (iterative) reader at once.
class RequestHandler {
public:
    explicit RequestHandler(ControlRequest& out) : out_(out) {}

    const char* reason() const { return reason_; }
    bool saw_cmd() const { return saw_cmd_; }

    bool Null() { return scalar(); }
    bool Bool(bool) { return scalar(); }
    bool Int(int) { return scalar(); }
    bool Uint(unsigned) { return scalar(); }
    bool Int64(int64_t) { return scalar(); }
    bool Uint64(uint64_t) { return scalar(); }
    bool Double(double) { return scalar(); }
    bool RawNumber(const char*, rapidjson::SizeType, bool) { return scalar(); }
    bool String(const char* s, rapidjson::SizeType n, bool) {
        if (depth_ == 0) return refuse("request is not a JSON object");
        if (has_encoded_surrogate(s, n)) return refuse("request has a lone surrogate escape in a string");
        if (depth_ == 1 && in_object_top_) {
            if (key_ == "cmd") {
                out_.cmd.assign(s, n);
                saw_cmd_ = true;
            } else {
                out_.args.emplace_back(key_, std::string(s, n));
            }
        }
        return true;
    }
    bool Key(const char* s, rapidjson::SizeType n, bool) {
        if (has_encoded_surrogate(s, n)) return refuse("request has a lone surrogate escape in a member name");
        if (depth_ == 1) {
            key_.assign(s, n);
            if (!names_.insert(key_).second) return refuse("request has a repeated member name");
        }
        return true;
    }
    bool StartObject() {
        if (depth_ == 0) in_object_top_ = true;
        return enter();
    }
    bool EndObject(rapidjson::SizeType) {
        --depth_;
        return true;
    }
    bool StartArray() {
        if (depth_ == 0) return refuse("request is not a JSON object");
        return enter();
    }
    bool EndArray(rapidjson::SizeType) {
        --depth_;
        return true;
    }

private:
    bool scalar() { return depth_ == 0 ? refuse("request is not a JSON object") : true; }
    bool enter() {
        if (++depth_ > kControlRequestMaxDepth) return refuse("request nests deeper than 16 levels");
        return true;
    }
    bool refuse(const char* why) {
        reason_ = why;
        return false;
    }

    ControlRequest& out_;
    unsigned depth_ = 0;
    bool in_object_top_ = false;
    bool saw_cmd_ = false;
    std::string key_;
    std::unordered_set<std::string> names_;
    const char* reason_ = nullptr;  // static string; set when a rule refused the input
};

bool is_json_whitespace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

static_assert(kControlRequestMaxDepth == 16, "update the depth error message");

std::string ControlRequest::arg(std::string_view name) const {
    for (const auto& [k, v] : args)
        if (k == name) return v;
    return {};
}

Result<ControlRequest> parse_control_request(std::string_view line) {
    if (line.size() > kControlRequestMaxBytes)
        return make_error("request longer than " + std::to_string(kControlRequestMaxBytes) + " bytes");
    constexpr unsigned kFlags = rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag |
                                rapidjson::kParseStopWhenDoneFlag;
    ControlRequest req;
    RequestHandler handler(req);
    rapidjson::MemoryStream stream(line.data(), line.size());
    rapidjson::Reader reader;
    const rapidjson::ParseResult result = reader.Parse<kFlags>(stream, handler);
    if (handler.reason() != nullptr) return make_error(handler.reason());
    if (result.IsError())
        return make_error("request is not valid JSON (byte " + std::to_string(result.Offset()) + ": " +
                          rapidjson::GetParseError_En(result.Code()) + ")");
    for (size_t i = stream.Tell(); i < line.size(); ++i)
        if (!is_json_whitespace(line[i]))
            return make_error("request is not valid JSON (byte " + std::to_string(i) +
                              ": trailing characters after the object)");
    if (!handler.saw_cmd()) return make_error("request has no \"cmd\" string");
    return req;
}

}  // namespace rustun

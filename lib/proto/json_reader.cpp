#include "proto/json_reader.hpp"

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <algorithm>

#include "proto/json_writer.hpp"

namespace rustun {

namespace {

// The escape decoder of RapidJSON 1.1 refuses a lone *high* surrogate but encodes a lone *low*
// surrogate (\uDC00..\uDFFF) as the 3-byte sequence ED B0..BF xx. Raw input is validated UTF-8,
// in which ED is always followed by 80..9F, so this pattern can only come from such an escape.
bool has_encoded_surrogate(const char* s, size_t n) {
    for (size_t i = 0; i + 1 < n; ++i) {
        if (static_cast<unsigned char>(s[i]) == 0xED && static_cast<unsigned char>(s[i + 1]) >= 0xA0) {
            return true;
        }
    }
    return false;
}

// SAX filter between the RapidJSON reader and the DOM builder: enforces the checks RapidJSON
// does not make. On refusal it records the reason and stops the parse.
class StrictHandler {
public:
    explicit StrictHandler(rapidjson::Document& doc) : doc_(doc) {}

    const char* reason() const { return reason_; }

    bool Null() { return doc_.Null(); }
    bool Bool(bool b) { return doc_.Bool(b); }
    // RapidJSON reports non-negative integers through Uint/Uint64 and a leading '-' through
    // Int/Int64, so Int(0) can only be "-0", which serde_json reads as the float -0.0.
    bool Int(int i) { return i == 0 ? doc_.Double(-0.0) : doc_.Int(i); }
    bool Uint(unsigned u) { return doc_.Uint(u); }
    bool Int64(int64_t i) { return doc_.Int64(i); }
    bool Uint64(uint64_t u) { return doc_.Uint64(u); }
    bool Double(double d) { return doc_.Double(d); }
    bool RawNumber(const char* s, rapidjson::SizeType n, bool copy) { return doc_.RawNumber(s, n, copy); }
    bool String(const char* s, rapidjson::SizeType n, bool copy) {
        if (has_encoded_surrogate(s, n)) return refuse("lone surrogate escape in a string");
        return doc_.String(s, n, copy);
    }
    bool Key(const char* s, rapidjson::SizeType n, bool copy) {
        if (has_encoded_surrogate(s, n)) return refuse("lone surrogate escape in a member name");
        return doc_.Key(s, n, copy);
    }
    bool StartObject() { return enter() && doc_.StartObject(); }
    bool EndObject(rapidjson::SizeType members) {
        --depth_;
        return doc_.EndObject(members);
    }
    bool StartArray() { return enter() && doc_.StartArray(); }
    bool EndArray(rapidjson::SizeType elements) {
        --depth_;
        return doc_.EndArray(elements);
    }

private:
    bool enter() {
        if (++depth_ > kJsonMaxDepth) return refuse("nesting deeper than 128 levels");
        return true;
    }
    bool refuse(const char* why) {
        reason_ = why;
        return false;
    }

    rapidjson::Document& doc_;
    unsigned depth_ = 0;
    const char* reason_ = nullptr;  // static string; set when a check refused the input
};

bool is_json_whitespace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string quoted(std::string_view s) {
    std::string out;
    json_append_string(out, s);
    return out;
}

std::string_view name_of(const rapidjson::Value& v) {
    return {v.GetString(), v.GetStringLength()};
}

// Refuses a repeated member name in any object of the tree rooted at v. Depth is bounded by
// kJsonMaxDepth (checked while parsing), so recursion is bounded.
Status check_duplicates(const rapidjson::Value& v, const JsonPath& path,
                        std::vector<std::string_view>& scratch) {
    if (v.IsObject()) {
        const rapidjson::SizeType n = v.MemberCount();
        if (n >= 2) {
            scratch.clear();
            for (const auto& m : v.GetObject()) scratch.push_back(name_of(m.name));
            std::sort(scratch.begin(), scratch.end());
            const auto dup = std::adjacent_find(scratch.begin(), scratch.end());
            if (dup != scratch.end()) {
                return make_error(path.str() + ": duplicate member " + quoted(*dup));
            }
        }
        for (const auto& m : v.GetObject()) {
            if (!m.value.IsObject() && !m.value.IsArray()) continue;
            Status s = check_duplicates(m.value, path.member(name_of(m.name)), scratch);
            if (!s) return s;
        }
    } else if (v.IsArray()) {
        size_t i = 0;
        for (const auto& e : v.GetArray()) {
            if (e.IsObject() || e.IsArray()) {
                Status s = check_duplicates(e, path.element(i), scratch);
                if (!s) return s;
            }
            ++i;
        }
    }
    return Status::success();
}

std::string describe(const rapidjson::Value& v) {
    if (v.IsNull()) return "null";
    if (v.IsBool()) return "a boolean";
    if (v.IsString()) return "a string";
    if (v.IsArray()) return "a list";
    if (v.IsObject()) return "an object";
    if (v.IsUint64()) return std::to_string(v.GetUint64());
    if (v.IsInt64()) return std::to_string(v.GetInt64());
    return "a non-integer number";
}

}  // namespace

std::string JsonPath::str() const {
    std::string out;
    if (parent_ != nullptr) {
        out = parent_->str();
        if (index_ != kNoIndex) return out + "[" + std::to_string(index_) + "]";
        out.push_back('.');
    }
    out.append(label_);
    return out;
}

Status JsonDocument::parse(std::string_view text, std::string_view label) {
    constexpr unsigned kFlags = rapidjson::kParseValidateEncodingFlag |
                                rapidjson::kParseStopWhenDoneFlag;
    rapidjson::MemoryStream stream(text.data(), text.size());
    rapidjson::Reader reader;
    StrictHandler handler(doc_);
    rapidjson::ParseResult result;
    auto generate = [&](rapidjson::Document& d) {
        (void)d;  // the handler already forwards to doc_
        result = reader.Parse<kFlags>(stream, handler);
        return !result.IsError();
    };
    doc_.SetNull();
    doc_.GetAllocator().Clear();
    doc_.Populate(generate);

    if (result.IsError()) {
        std::string msg = std::string(label) + ": invalid JSON at byte " +
                          std::to_string(result.Offset()) + ": ";
        msg += handler.reason() != nullptr ? handler.reason()
                                           : rapidjson::GetParseError_En(result.Code());
        doc_.SetNull();
        return make_error(std::move(msg));
    }
    for (size_t i = stream.Tell(); i < text.size(); ++i) {
        if (!is_json_whitespace(text[i])) {
            doc_.SetNull();
            return make_error(std::string(label) + ": invalid JSON at byte " + std::to_string(i) +
                              ": trailing characters after the value");
        }
    }
    std::vector<std::string_view> scratch;
    Status dup = check_duplicates(doc_, JsonPath(label), scratch);
    if (!dup) doc_.SetNull();
    return dup;
}

Result<JsonObject> JsonObject::from(const rapidjson::Value& value, const JsonPath& path) {
    if (!value.IsObject()) return make_error(json_type_error(value, path, "an object").error());
    return JsonObject(value, path);
}

const rapidjson::Value* JsonObject::find(std::string_view name) const {
    const rapidjson::Value key(rapidjson::StringRef(name.data(),
                                                    static_cast<rapidjson::SizeType>(name.size())));
    const auto it = v_->FindMember(key);
    return it == v_->MemberEnd() ? nullptr : &it->value;
}

Status JsonObject::missing(std::string_view name) const {
    return make_error(path_->member(name).str() + ": missing required member");
}

Status json_type_error(const rapidjson::Value& value, const JsonPath& path,
                       std::string_view expected) {
    return make_error(path.str() + ": expected " + std::string(expected) + ", got " +
                      describe(value));
}

Status json_read_string(const rapidjson::Value& value, const JsonPath& path, std::string& out) {
    if (!value.IsString()) return json_type_error(value, path, "a string");
    out.assign(value.GetString(), value.GetStringLength());
    return Status::success();
}

Status json_read_u16(const rapidjson::Value& value, const JsonPath& path, uint16_t& out) {
    if (!value.IsUint64() || value.GetUint64() > 0xFFFF) {
        return json_type_error(value, path, "an integer 0..65535 (u16)");
    }
    out = static_cast<uint16_t>(value.GetUint64());
    return Status::success();
}

Status json_read_u64(const rapidjson::Value& value, const JsonPath& path, uint64_t& out) {
    if (!value.IsUint64()) return json_type_error(value, path, "an integer 0..2^64-1 (u64)");
    out = value.GetUint64();
    return Status::success();
}

Status JsonObject::get_string(std::string_view name, std::string& out) const {
    const rapidjson::Value* v = find(name);
    if (v == nullptr) return missing(name);
    return json_read_string(*v, path_->member(name), out);
}

Status JsonObject::get_u16(std::string_view name, uint16_t& out) const {
    const rapidjson::Value* v = find(name);
    if (v == nullptr) return missing(name);
    return json_read_u16(*v, path_->member(name), out);
}

Status JsonObject::get_u64(std::string_view name, uint64_t& out) const {
    const rapidjson::Value* v = find(name);
    if (v == nullptr) return missing(name);
    return json_read_u64(*v, path_->member(name), out);
}

Status JsonObject::get_string_list(std::string_view name, std::vector<std::string>& out) const {
    const rapidjson::Value* v = find(name);
    if (v == nullptr) return missing(name);
    const JsonPath path = path_->member(name);
    if (!v->IsArray()) return json_type_error(*v, path, "a list of strings");
    out.clear();
    out.reserve(v->Size());
    size_t i = 0;
    for (const rapidjson::Value& e : v->GetArray()) {
        if (!e.IsString()) return json_type_error(e, path.element(i), "a string");
        out.emplace_back(e.GetString(), e.GetStringLength());
        ++i;
    }
    return Status::success();
}

Status JsonObject::get_string_map(std::string_view name,
                                  std::vector<std::pair<std::string, std::string>>& out) const {
    const rapidjson::Value* v = find(name);
    if (v == nullptr) return missing(name);
    const JsonPath path = path_->member(name);
    if (!v->IsObject()) return json_type_error(*v, path, "an object of strings");
    out.clear();
    out.reserve(v->MemberCount());
    for (const auto& m : v->GetObject()) {
        if (!m.value.IsString()) {
            return json_type_error(m.value, path.member(name_of(m.name)), "a string");
        }
        out.emplace_back(std::string(name_of(m.name)),
                         std::string(m.value.GetString(), m.value.GetStringLength()));
    }
    return Status::success();
}

Status JsonObject::opt_string(std::string_view name, std::string& out, bool& present) const {
    const rapidjson::Value* v = find(name);
    present = v != nullptr;
    return present ? json_read_string(*v, path_->member(name), out) : Status::success();
}

Status JsonObject::opt_u16(std::string_view name, uint16_t& out, bool& present) const {
    const rapidjson::Value* v = find(name);
    present = v != nullptr;
    return present ? json_read_u16(*v, path_->member(name), out) : Status::success();
}

Status JsonObject::opt_u64(std::string_view name, uint64_t& out, bool& present) const {
    const rapidjson::Value* v = find(name);
    present = v != nullptr;
    return present ? json_read_u64(*v, path_->member(name), out) : Status::success();
}

}  // namespace rustun

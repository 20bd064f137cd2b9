// Strict JSON reading on top of RapidJSON, accepting what serde_json accepts for our frame
// bodies (docs/protocol.md, "JSON encoding") and nothing more:
//   * input must be valid UTF-8 (kParseValidateEncodingFlag); \uXXXX escapes and surrogate pairs
//     are decoded; a lone surrogate escape is an error;
//   * only JSON whitespace may follow the root value (a NUL byte is an error);
//   * a repeated member name in any object is an error;
//   * nesting deeper than kJsonMaxDepth is an error (serde_json's recursion limit is 128);
//   * u16 / u64 accept only JSON integers without sign, fraction or exponent in range
//     ("-0", "1.0", "1e2", "-1", "65536" and strings are refused for u16);
//   * null is not a string or a list; required members must be present; unknown members are
//     ignored.
// Inside members we do not read we are slightly stricter than serde_json, which skips them
// unchecked: lone surrogate escapes, numbers beyond the double range and repeated names are
// refused there too. No reference sender produces any of these.
// Error messages name the member by its path ("HandshakeReply.peer_details[1].port") and say why.
// Not for a per-packet path: parsing builds a DOM (allocates).
#pragma once

#include <rapidjson/document.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/result.hpp"

namespace rustun {

inline constexpr unsigned kJsonMaxDepth = 128;  // nested objects/arrays

// Position of a value in a document, for error messages only. A chain of stack objects: each
// node must outlive the nodes made from it. Rendering allocates, and happens only on error.
class JsonPath {
public:
    // Root node; `label` names the document (e.g. "KeepAlive").
    explicit JsonPath(std::string_view label) : label_(label) {}

    JsonPath member(std::string_view name) const { return JsonPath(this, name, kNoIndex); }
    JsonPath element(size_t index) const { return JsonPath(this, {}, index); }

    std::string str() const;

private:
    static constexpr size_t kNoIndex = static_cast<size_t>(-1);
    JsonPath(const JsonPath* parent, std::string_view name, size_t index)
        : parent_(parent), label_(name), index_(index) {}

    const JsonPath* parent_ = nullptr;
    std::string_view label_;  // document label (root) or member name
    size_t index_ = kNoIndex;  // array index when not kNoIndex
};

class JsonDocument {
public:
    // Parses `text` with the rules above. On error the message starts with `label` and says
    // where (byte offset or member path) and why. The document may be parsed again; each parse
    // replaces the previous content.
    Status parse(std::string_view text, std::string_view label);

    // The root value; null before a successful parse.
    const rapidjson::Value& root() const { return doc_; }

private:
    rapidjson::Document doc_;
};

// Typed, checked access to the members of one JSON object.
class JsonObject {
public:
    // Error unless `value` is an object.
    static Result<JsonObject> from(const rapidjson::Value& value, const JsonPath& path);

    bool has(std::string_view name) const { return find(name) != nullptr; }
    const rapidjson::Value* find(std::string_view name) const;
    const JsonPath& path() const { return *path_; }

    // Required members: error when absent or of the wrong type.
    Status get_string(std::string_view name, std::string& out) const;
    Status get_u16(std::string_view name, uint16_t& out) const;
    Status get_u64(std::string_view name, uint64_t& out) const;
    Status get_string_list(std::string_view name, std::vector<std::string>& out) const;
    // {string:string}; the pairs are returned in document order.
    Status get_string_map(std::string_view name,
                          std::vector<std::pair<std::string, std::string>>& out) const;
    // [object]: calls fn(const JsonObject& element) -> Status for each element in order and
    // stops at the first error.
    template <typename Fn>
    Status get_object_list(std::string_view name, Fn&& fn) const;

    // Optional members: `present` tells whether the member was there; when present it must
    // still have the right type. `out` is untouched when absent.
    Status opt_string(std::string_view name, std::string& out, bool& present) const;
    Status opt_u16(std::string_view name, uint16_t& out, bool& present) const;
    Status opt_u64(std::string_view name, uint64_t& out, bool& present) const;
    template <typename Fn>
    Status opt_object_list(std::string_view name, Fn&& fn, bool& present) const;

private:
    JsonObject(const rapidjson::Value& value, const JsonPath& path) : v_(&value), path_(&path) {}
    Status missing(std::string_view name) const;

    const rapidjson::Value* v_;
    const JsonPath* path_;
};

// Reads `value` as the given type; `path` names it in the error.
Status json_read_string(const rapidjson::Value& value, const JsonPath& path, std::string& out);
Status json_read_u16(const rapidjson::Value& value, const JsonPath& path, uint16_t& out);
Status json_read_u64(const rapidjson::Value& value, const JsonPath& path, uint64_t& out);
// "<path>: expected <expected>, got <what value is>".
Status json_type_error(const rapidjson::Value& value, const JsonPath& path,
                       std::string_view expected);

// Calls fn(const JsonObject&) -> Status for each element of the array `list`, in order; stops
// at the first error. Error when `list` is not an array or an element is not an object.
template <typename Fn>
Status json_for_each_object(const rapidjson::Value& list, const JsonPath& path, Fn& fn) {
    if (!list.IsArray()) return json_type_error(list, path, "a list of objects");
    size_t index = 0;
    for (const rapidjson::Value& element : list.GetArray()) {
        const JsonPath element_path = path.element(index++);
        Result<JsonObject> object = JsonObject::from(element, element_path);
        if (!object) return make_error(object.error());
        Status s = fn(*object);
        if (!s) return s;
    }
    return Status::success();
}

template <typename Fn>
Status JsonObject::get_object_list(std::string_view name, Fn&& fn) const {
    const rapidjson::Value* list = find(name);
    if (list == nullptr) return missing(name);
    return json_for_each_object(*list, path_->member(name), fn);
}

template <typename Fn>
Status JsonObject::opt_object_list(std::string_view name, Fn&& fn, bool& present) const {
    const rapidjson::Value* list = find(name);
    present = list != nullptr;
    if (!present) return Status::success();
    return json_for_each_object(*list, path_->member(name), fn);
}

}  // namespace rustun

// Access to tests/data/vectors.json (the protocol reference's byte-exact vectors) for the proto
// tests. The directory comes from the RUSTUN_TEST_DATA environment variable (set by meson).
#pragma once

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "util/hex.hpp"

namespace rustun::test {

// The parsed vectors file; aborts the test binary when it cannot be read.
inline const rapidjson::Document& vectors() {
    static const rapidjson::Document doc = [] {
        const char* dir = std::getenv("RUSTUN_TEST_DATA");
        const std::string path = std::string(dir != nullptr ? dir : "tests/data") + "/vectors.json";
        std::ifstream in(path, std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        rapidjson::Document d;
        d.Parse(ss.str().c_str());
        if (!in || d.HasParseError() || !d.IsObject()) {
            std::fprintf(stderr, "cannot read test vectors from %s\n", path.c_str());
            std::abort();
        }
        return d;
    }();
    return doc;
}

inline std::string str(const rapidjson::Value& v, const char* member) {
    if (!v.IsObject()) return {};
    const auto it = v.FindMember(member);
    if (it == v.MemberEnd() || !it->value.IsString()) return {};
    return {it->value.GetString(), it->value.GetStringLength()};
}

inline std::vector<uint8_t> hex_bytes(const rapidjson::Value& v, const char* member) {
    std::vector<uint8_t> out;
    EXPECT_TRUE(from_hex(str(v, member), out)) << member;
    return out;
}

// The element of `array_name` whose "id" is `id`; fails the test when absent.
inline const rapidjson::Value& by_id(const char* array_name, std::string_view id) {
    for (const auto& v : vectors()[array_name].GetArray()) {
        if (str(v, "id") == id) return v;
    }
    ADD_FAILURE() << "no vector " << id;
    static const rapidjson::Value null_value;
    return null_value;
}

}  // namespace rustun::test

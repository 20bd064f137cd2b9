// Named members of a RapidJSON object written in one call each (the fleet's records in etcd and
// its control-socket answers). Integers are written unsigned: every value here is a count, an id
// or a time in Unix seconds/milliseconds.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "config/address.hpp"

namespace rustun::cp::json {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

inline void member(Writer& w, const char* name, std::string_view v) {
    w.Key(name);
    w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
}
inline void member(Writer& w, const char* name, uint64_t v) {
    w.Key(name);
    w.Uint64(v);
}
// A separate name: a bool would otherwise convert silently to the integer overload.
inline void member_bool(Writer& w, const char* name, bool v) {
    w.Key(name);
    w.Bool(v);
}

// An array of CIDRs in their text form ("10.0.0.0/24").
inline void member(Writer& w, const char* name, const std::vector<Ipv4Cidr>& v) {
    w.Key(name);
    w.StartArray();
    for (const Ipv4Cidr& cidr : v) {
        const std::string t = cidr.to_string();
        w.String(t.data(), static_cast<rapidjson::SizeType>(t.size()));
    }
    w.EndArray();
}

}  // namespace rustun::cp::json

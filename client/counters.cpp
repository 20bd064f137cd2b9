#include "counters.hpp"

#include "proto/json_writer.hpp"

namespace rustun::client {

void Counters::write_members(JsonWriter& w) const {
    for (size_t i = 0; i < kCtrCount; ++i) w.member_uint(kCtrInfo[i].name, v_[i]);
}

}  // namespace rustun::client

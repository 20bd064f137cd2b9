// The client's counter table: unique names, one slot each, written in table order.
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "counters.hpp"
#include "proto/json_writer.hpp"

using namespace rustun;
using namespace rustun::client;

TEST(ClientCounters, NamesAreUniqueAndDocumented) {
    std::set<std::string> names;
    for (const CtrInfo& c : kCtrInfo) {
        EXPECT_TRUE(names.insert(c.name).second) << c.name;
        EXPECT_GT(std::string(c.help).size(), 10u) << c.name;
    }
    EXPECT_EQ(names.size(), kCtrCount);
    EXPECT_STREQ(kCtrInfo[static_cast<size_t>(Ctr::tun_rx)].name, "tun_rx");
    EXPECT_STREQ(kCtrInfo[static_cast<size_t>(Ctr::p2p_unknown)].name, "p2p_unknown");
}

TEST(ClientCounters, IncrementsOnlyTheirOwnSlot) {
    Counters c;
    c.inc(Ctr::tcp_out_full);
    c.inc(Ctr::tcp_out_full, 4);
    EXPECT_EQ(c.get(Ctr::tcp_out_full), 5u);
    for (size_t i = 0; i < kCtrCount; ++i)
        if (static_cast<Ctr>(i) != Ctr::tcp_out_full) {
            EXPECT_EQ(c.get(static_cast<Ctr>(i)), 0u) << kCtrInfo[i].name;
        }
}

TEST(ClientCounters, StatusMembersInTableOrder) {
    Counters c;
    c.inc(Ctr::tun_rx, 8);
    c.inc(Ctr::p2p_unknown, 2);
    std::string out;
    JsonWriter w(out);
    w.begin_object();
    c.write_members(w);
    w.end_object();
    std::string want = "{";
    for (size_t i = 0; i < kCtrCount; ++i) {
        if (i) want += ',';
        const uint64_t v = i == 0 ? 8 : (static_cast<Ctr>(i) == Ctr::p2p_unknown ? 2 : 0);
        want.append("\"").append(kCtrInfo[i].name).append("\":").append(std::to_string(v));
    }
    want += "}";
    EXPECT_EQ(out, want);
    // The status document's documented names (docs/client.md) start with these.
    EXPECT_EQ(out.rfind("{\"tun_rx\":8,\"tun_tx\":0,", 0), 0u);
}

// docs/client.md lists the table, in order, one row per counter: "| `name` | help |".
TEST(ClientCounters, DocumentedInClientMd) {
    const char* root = std::getenv("RUSTUN_SOURCE_ROOT");
    ASSERT_NE(root, nullptr) << "RUSTUN_SOURCE_ROOT not set";
    std::ifstream in(std::string(root) + "/docs/client.md");
    ASSERT_TRUE(in.good());
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string doc = ss.str();
    size_t pos = doc.find("### Counters");
    ASSERT_NE(pos, std::string::npos);
    for (const CtrInfo& c : kCtrInfo) {
        const std::string row = std::string("| `") + c.name + "` | " + c.help + " |";
        const size_t at = doc.find(row, pos);
        EXPECT_NE(at, std::string::npos) << "docs/client.md lacks (in table order): " << row;
        if (at != std::string::npos) pos = at;
    }
}

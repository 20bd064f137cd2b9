// The shared-memory channel: layout validation, ring semantics, and two real processes.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "shm/channel.hpp"

namespace rustun::shm {
namespace {

std::string temp_path(const char* name) {
    return std::string("/dev/shm/rustun-test-") + name + "-" + std::to_string(::getpid());
}

TEST(ShmChannel, CreateThenAttachSeesTheSameLayout) {
    auto path = temp_path("layout");
    auto dp = Channel::create(path, ChannelOptions{3, 1024, 256, 512});
    ASSERT_TRUE(dp.ok()) << dp.error();
    auto cp = Channel::attach(path);
    ASSERT_TRUE(cp.ok()) << cp.error();
    EXPECT_EQ((*cp)->dp_epoch(), (*dp)->dp_epoch());
    EXPECT_NE((*cp)->dp_epoch(), 0u);
    EXPECT_EQ((*cp)->workers(), 3u);
    EXPECT_EQ((*cp)->control().capacity(), 1024u);
    EXPECT_EQ((*cp)->tx().capacity(), 256u);
    EXPECT_EQ((*cp)->dp_to_cp(2).capacity(), 512u);
    EXPECT_TRUE((*cp)->still_current());
    ::unlink(path.c_str());
    EXPECT_FALSE((*cp)->still_current());
}

TEST(ShmChannel, AttachRefusesMissingAndForeignSegments) {
    auto missing = Channel::attach(temp_path("missing"));
    ASSERT_FALSE(missing.ok());
    EXPECT_NE(missing.error().find("No such file"), std::string::npos) << missing.error();
    auto path = temp_path("foreign");
    {
        auto dp = Channel::create(path, ChannelOptions{});
        ASSERT_TRUE(dp.ok());
        (*dp)->header().version = 99;
    }
    auto bad = Channel::attach(path);
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().find("version 99, expected " + std::to_string(kChannelVersion)), std::string::npos) << bad.error();
    ::unlink(path.c_str());
}

TEST(ShmChannel, RecreatingChangesTheEpochAndTheFile) {
    auto path = temp_path("epoch");
    auto first = Channel::create(path, ChannelOptions{});
    auto cp = Channel::attach(path);
    ASSERT_TRUE(first.ok() && cp.ok());
    auto second = Channel::create(path, ChannelOptions{});
    ASSERT_TRUE(second.ok());
    EXPECT_FALSE((*cp)->still_current());
    EXPECT_NE((*second)->dp_epoch(), (*cp)->dp_epoch());
    ::unlink(path.c_str());
}

TEST(ShmRing, FullEmptyAndOrder) {
    auto path = temp_path("ring");
    auto dp = Channel::create(path, ChannelOptions{1, 8, 8, 8});
    auto cp = Channel::attach(path);
    ASSERT_TRUE(dp.ok() && cp.ok());
    SpscRing& prod = (*cp)->control();
    SpscRing& cons = (*dp)->control();
    EXPECT_EQ(cons.peek(), nullptr);
    for (uint32_t i = 0; i < 8; ++i) {
        uint8_t* s = prod.reserve();
        ASSERT_NE(s, nullptr) << i;
        ClientIdMsg m{i, 0};
        write_msg(s, MsgType::ClientRemove, &m, sizeof m);
        prod.commit();
    }
    EXPECT_EQ(prod.reserve(), nullptr);  // full
    for (uint32_t i = 0; i < 8; ++i) {
        const uint8_t* s = cons.peek();
        ASSERT_NE(s, nullptr);
        EXPECT_EQ(msg_header(s).type, static_cast<uint16_t>(MsgType::ClientRemove));
        EXPECT_EQ(reinterpret_cast<const ClientIdMsg*>(msg_body(s))->client_id, i);
        cons.consume();
        if (i == 3) cons.release();
    }
    cons.release();
    EXPECT_EQ(cons.peek(), nullptr);
    EXPECT_NE(prod.reserve(), nullptr);  // space again
    ::unlink(path.c_str());
}

// Two processes: a child produces a million messages into a small ring, the parent checks order.
TEST(ShmRing, AcrossProcessesNothingIsLostOrReordered) {
    auto path = temp_path("procs");
    auto dp = Channel::create(path, ChannelOptions{1, 64, 64, 64});
    ASSERT_TRUE(dp.ok());
    constexpr uint32_t kCount = 1'000'000;
    pid_t child = ::fork();
    if (child == 0) {
        auto cp = Channel::attach(path);
        if (!cp.ok()) _exit(2);
        SpscRing& r = (*cp)->control();
        for (uint32_t i = 0; i < kCount;) {
            uint8_t* s = r.reserve();
            if (!s) continue;
            ClientIdMsg m{i, ~i};
            write_msg(s, MsgType::ClientRemove, &m, sizeof m);
            r.advance();
            if (++i % 16 == 0) r.publish();
        }
        r.publish();
        _exit(0);
    }
    SpscRing& r = (*dp)->control();
    uint32_t next = 0;
    while (next < kCount) {
        const uint8_t* s = r.peek();
        if (!s) continue;
        auto* m = reinterpret_cast<const ClientIdMsg*>(msg_body(s));
        ASSERT_EQ(m->client_id, next);
        ASSERT_EQ(m->pad, ~next);
        r.consume();
        ++next;
        if (next % 8 == 0) r.release();
    }
    r.release();
    int status = 0;
    ::waitpid(child, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ::unlink(path.c_str());
}

TEST(ShmChannel, CountersAreSummedOverWorkers) {
    auto path = temp_path("counters");
    auto dp = Channel::create(path, ChannelOptions{2, 16, 16, 16});
    auto cp = Channel::attach(path);
    ASSERT_TRUE(dp.ok() && cp.ok());
    (*dp)->counters(0)[static_cast<size_t>(DpCounter::relayed)] = 5;
    (*dp)->counters(1)[static_cast<size_t>(DpCounter::relayed)] = 7;
    EXPECT_EQ((*cp)->counter_total(DpCounter::relayed), 12u);
    EXPECT_EQ((*cp)->counter_total(DpCounter::drop_no_route), 0u);
    ::unlink(path.c_str());
}

}  // namespace
}  // namespace rustun::shm

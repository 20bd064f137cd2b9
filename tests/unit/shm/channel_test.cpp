// The shared-memory channel: layout validation, ring semantics, and two real processes.
#include <gtest/gtest.h>

#include <cstring>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "shm/channel.hpp"
#include "shm/messages.hpp"
#include "proto/frame.hpp"

namespace rustun::shm {
namespace {

// A private directory (mkdtemp: 0700, ours) under /dev/shm: the channel is refused directly in
// a world-writable directory such as /dev/shm itself.
struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/dev/shm/rustun-test-XXXXXX";
        path = ::mkdtemp(tmpl);
    }
    ~TempDir() { std::filesystem::remove_all(path); }
};
const std::string& temp_dir() {
    static TempDir d;
    return d.path;
}
std::string temp_path(const char* name) { return temp_dir() + "/" + name; }

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
        ChannelOptions o;
        o.software_version = "v9.9-future";
        auto dp = Channel::create(path, o);
        ASSERT_TRUE(dp.ok());
        (*dp)->header().version = 99;
    }
    AttachFailure why = AttachFailure::None;
    auto bad = Channel::attach(path, &why);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(why, AttachFailure::Version);
    // Both channel versions and the dataplane's build (read at its fixed offset) are named.
    EXPECT_NE(bad.error().find("channel version 99, expected " + std::to_string(kChannelVersion) + " (dataplane v9.9-future"),
              std::string::npos)
        << bad.error();
    ::unlink(path.c_str());
}

TEST(ShmChannel, TheDataplaneVersionTravelsInTheHeaderCutAndSanitised) {
    auto path = temp_path("dpversion");
    ChannelOptions o;
    o.software_version = "v1.2-3-gabcdef";
    auto dp = Channel::create(path, o);
    ASSERT_TRUE(dp.ok());
    auto cp = Channel::attach(path);
    ASSERT_TRUE(cp.ok()) << cp.error();
    EXPECT_EQ((*cp)->dp_version(), "v1.2-3-gabcdef");
    // Untrusted bytes: no terminator within the field, a control byte.
    std::memset((*dp)->header().dp_version, 'x', kVersionBytes);
    (*dp)->header().dp_version[3] = '\n';
    auto again = Channel::attach(path);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ((*again)->dp_version(), "xxx?" + std::string(kVersionBytes - 4, 'x'));
    ::unlink(path.c_str());
    o.software_version = std::string(200, 'v');
    auto longer = Channel::create(path, o);
    ASSERT_TRUE(longer.ok());
    auto cp2 = Channel::attach(path);
    ASSERT_TRUE(cp2.ok());
    EXPECT_EQ((*cp2)->dp_version(), std::string(kVersionBytes - 1, 'v'));
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
    (*dp)->main_counters()[static_cast<size_t>(DpCounter::relayed)] = 30;
    EXPECT_EQ((*cp)->counter_total(DpCounter::relayed), 42u);  // the main lcore's block counts too
    EXPECT_EQ((*cp)->counter_total(DpCounter::drop_no_route), 0u);
    ::unlink(path.c_str());
}

// Counter block 0 used to have two writers (worker 0 and the main lcore), so every add had to be
// atomic: now each worker and the main lcore own a block, all inside the segment, none shared.
TEST(ShmChannel, EveryWriterOwnsItsCounterBlock) {
    auto path = temp_path("blocks");
    auto dp = Channel::create(path, ChannelOptions{3, 16, 16, 16, 16});
    ASSERT_TRUE(dp.ok()) << dp.error();
    const auto stride = (*dp)->header().counter_stride;
    std::vector<const std::atomic<uint64_t>*> blocks;
    for (uint32_t w = 0; w < 3; ++w) blocks.push_back((*dp)->counters(w));
    blocks.push_back((*dp)->main_counters());
    for (size_t i = 0; i < blocks.size(); ++i) {
        const auto off = reinterpret_cast<const uint8_t*>(blocks[i]) - (*dp)->base();
        EXPECT_EQ(static_cast<uint64_t>(off), (*dp)->header().counters_offset + i * stride) << "block " << i;
        EXPECT_LE(off + kDpCounterCount * 8, (*dp)->header().rings[0].offset) << "block " << i << " overlaps the rings";
    }
    // Owned adds (plain load + store) from four threads, one per block: the total is exact.
    std::vector<std::thread> writers;
    for (auto* b : blocks)
        writers.emplace_back([b] {
            auto& c = const_cast<std::atomic<uint64_t>*>(b)[static_cast<size_t>(DpCounter::relayed)];
            for (int i = 0; i < 100000; ++i) add_owned(c, 1);
        });
    for (auto& t : writers) t.join();
    auto cp = Channel::attach(path);
    ASSERT_TRUE(cp.ok()) << cp.error();
    EXPECT_EQ((*cp)->counter_total(DpCounter::relayed), 400000u);
    // A stride that leaves room for the workers' blocks but not for the main lcore's is refused.
    (*dp)->header().counter_stride = ((*dp)->size() - (*dp)->header().counters_offset) / 4 + 64;
    EXPECT_FALSE(Channel::attach(path).ok());
    ::unlink(path.c_str());
}


// ---- item: where the channel lives and whose it is (docs/shm-channel.md) ----

// A directory of its own for one test, mode `mode`.
std::string own_dir(const char* name, mode_t mode) {
    std::string d = temp_dir() + "/" + name;
    ::mkdir(d.c_str(), 0700);
    ::chmod(d.c_str(), mode);
    return d;
}

TEST(ShmChannel, CreateMakesThePrivateDirectoryAndFile) {
    const std::string d = temp_dir() + "/made";
    auto dp = Channel::create(d + "/chan", ChannelOptions{1, 16, 16, 16, 16});
    ASSERT_TRUE(dp.ok()) << dp.error();
    struct stat st {};
    ASSERT_EQ(::stat(d.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0700u);
    ASSERT_EQ(::stat((d + "/chan").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    // With a group: 0750 and 0660 of that group.
    const std::string g = temp_dir() + "/made-group";
    ChannelOptions o{1, 16, 16, 16, 16};
    o.group = 65534;
    auto dg = Channel::create(g + "/chan", o);
    ASSERT_TRUE(dg.ok()) << dg.error();
    ASSERT_EQ(::stat(g.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0750u);
    EXPECT_EQ(st.st_gid, 65534u);
    ASSERT_EQ(::stat((g + "/chan").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0660u);
    EXPECT_EQ(st.st_gid, 65534u);
}

TEST(ShmChannel, CreateRefusesAWorldWritableDirectory) {
    const std::string d = own_dir("create-ww", 01777);
    auto dp = Channel::create(d + "/chan", ChannelOptions{1, 16, 16, 16, 16});
    ASSERT_FALSE(dp.ok());
    EXPECT_NE(dp.error().find("world-writable"), std::string::npos) << dp.error();
    EXPECT_NE(::access((d + "/chan").c_str(), F_OK), 0);
}

struct Refusal {
    AttachFailure why;
    std::string error;
};
Refusal attach_error(const std::string& path) {
    AttachFailure why = AttachFailure::None;
    auto cp = Channel::attach(path, &why);
    return {why, cp.ok() ? std::string() : cp.error()};
}

TEST(ShmChannel, AttachRefusesAFileOfAnotherUser) {
    const std::string d = own_dir("uid", 0700);
    auto dp = Channel::create(d + "/chan", ChannelOptions{1, 16, 16, 16, 16});
    ASSERT_TRUE(dp.ok()) << dp.error();
    ASSERT_EQ(::chown((d + "/chan").c_str(), 65534, 65534), 0);  // nobody's file
    Refusal r = attach_error(d + "/chan");
    EXPECT_EQ(r.why, AttachFailure::Unsafe);
    EXPECT_NE(r.error.find("owned by uid 65534"), std::string::npos) << r.error;
    ASSERT_EQ(::chown((d + "/chan").c_str(), 0, 0), 0);
    EXPECT_TRUE(Channel::attach(d + "/chan").ok());
}

TEST(ShmChannel, AttachRefusesADirectoryOfAnotherUser) {
    const std::string d = own_dir("diruid", 0755);
    auto dp = Channel::create(d + "/chan", ChannelOptions{1, 16, 16, 16, 16});
    ASSERT_TRUE(dp.ok()) << dp.error();
    ASSERT_EQ(::chown(d.c_str(), 65534, 65534), 0);
    Refusal r = attach_error(d + "/chan");
    EXPECT_EQ(r.why, AttachFailure::Unsafe);
    EXPECT_NE(r.error.find("owned by uid 65534"), std::string::npos) << r.error;
}

TEST(ShmChannel, AttachRefusesASymbolicLink) {
    const std::string d = own_dir("symlink", 0700);
    auto dp = Channel::create(d + "/real", ChannelOptions{1, 16, 16, 16, 16});
    ASSERT_TRUE(dp.ok()) << dp.error();
    ASSERT_EQ(::symlink((d + "/real").c_str(), (d + "/chan").c_str()), 0);
    Refusal r = attach_error(d + "/chan");
    EXPECT_EQ(r.why, AttachFailure::Unsafe);
    EXPECT_NE(r.error.find("symbolic link"), std::string::npos) << r.error;
    EXPECT_TRUE(Channel::attach(d + "/real").ok());
}

TEST(ShmChannel, AttachRefusesAWorldWritableDirectoryEvenWithTheStickyBit) {
    const std::string d = own_dir("ww", 0700);
    auto dp = Channel::create(d + "/chan", ChannelOptions{1, 16, 16, 16, 16});
    ASSERT_TRUE(dp.ok()) << dp.error();
    for (mode_t m : {0777, 01777, 0733}) {
        ::chmod(d.c_str(), m);
        Refusal r = attach_error(d + "/chan");
        EXPECT_EQ(r.why, AttachFailure::Unsafe) << std::oct << m;
        EXPECT_NE(r.error.find("world-writable"), std::string::npos) << r.error;
    }
    // Group-writable by a group that is not ours.
    ::chmod(d.c_str(), 0770);
    ASSERT_EQ(::chown(d.c_str(), 0, 65534), 0);
    Refusal g = attach_error(d + "/chan");
    EXPECT_NE(g.error.find("writable by group 65534"), std::string::npos) << g.error;
    ::chmod(d.c_str(), 0750);
    EXPECT_TRUE(Channel::attach(d + "/chan").ok());
}

TEST(ShmChannel, AttachRefusesAModeWiderThan0660) {
    const std::string d = own_dir("mode", 0700);
    auto dp = Channel::create(d + "/chan", ChannelOptions{1, 16, 16, 16, 16});
    ASSERT_TRUE(dp.ok()) << dp.error();
    for (mode_t m : {0666, 0662, 0670, 0604, 04600, 0700}) {
        ::chmod((d + "/chan").c_str(), m);
        Refusal r = attach_error(d + "/chan");
        EXPECT_EQ(r.why, AttachFailure::Unsafe) << std::oct << m;
        EXPECT_NE(r.error.find("wider than 0660"), std::string::npos) << r.error;
    }
    for (mode_t m : {0600, 0640, 0660}) {
        ::chmod((d + "/chan").c_str(), m);
        EXPECT_TRUE(Channel::attach(d + "/chan").ok()) << std::oct << m;
    }
}

TEST(ShmChannel, AttachRefusesWhatIsNotARegularFile) {
    const std::string d = own_dir("fifo", 0700);
    ASSERT_EQ(::mkfifo((d + "/chan").c_str(), 0600), 0);
    Refusal r = attach_error(d + "/chan");  // O_NONBLOCK: does not hang
    EXPECT_EQ(r.why, AttachFailure::Unsafe);
    EXPECT_NE(r.error.find("not a regular file"), std::string::npos) << r.error;
}

// ---- item: a hostile or buggy peer cannot make the other side read out of bounds ----

TEST(ShmChannel, LayoutFieldsAreCopiedAtAttachAndNeverReadAgain) {
    auto path = temp_path("reread");
    auto dp = Channel::create(path, ChannelOptions{1, 16, 16, 16, 16});
    auto cp = Channel::attach(path);
    ASSERT_TRUE(dp.ok() && cp.ok());
    SegmentHeader& h = (*dp)->header();
    const uint64_t epoch = (*cp)->dp_epoch();
    h.worker_count = 62;  // was a heap-use-after-free in DataplaneLink::poll_rings
    h.ring_count = 126;
    h.counters_offset = ~0ull - 7;
    h.counter_stride = ~0ull;
    h.dp_epoch = 1;
    EXPECT_EQ((*cp)->workers(), 1u);
    EXPECT_EQ((*cp)->dp_epoch(), epoch);
    EXPECT_EQ((*cp)->counter_total(DpCounter::relayed), 0u);
    EXPECT_THROW((*cp)->dp_to_cp(1), std::out_of_range);
    // The ring views keep their own mask and slot size.
    auto* rh = reinterpret_cast<RingHeader*>((*dp)->base() + h.rings[2].offset);
    rh->slot_count = 1u << 30;
    rh->slot_size = 1u << 20;
    EXPECT_EQ((*cp)->dp_to_cp(0).capacity(), 16u);
    EXPECT_EQ((*cp)->dp_to_cp(0).slot_size(), kSlotSize);
}

TEST(ShmChannel, AttachRefusesOffsetsThatWouldWrap) {
    auto path = temp_path("wrap");
    auto dp = Channel::create(path, ChannelOptions{2, 16, 16, 16, 16});
    ASSERT_TRUE(dp.ok());
    SegmentHeader& h = (*dp)->header();
    const SegmentHeader saved_counters{};
    (void)saved_counters;
    auto expect_layout_error = [&](const char* what) {
        Refusal r = attach_error(path);
        EXPECT_EQ(r.why, AttachFailure::Layout) << what << ": " << r.error;
    };
    const uint64_t co = h.counters_offset, cs = h.counter_stride;
    h.counters_offset = ~0ull - 63;  // + stride * workers wraps around
    expect_layout_error("counters_offset");
    h.counters_offset = co;
    h.counter_stride = (1ull << 63);
    expect_layout_error("counter_stride");
    h.counter_stride = cs;
    const RingDesc r2 = h.rings[2];
    h.rings[2].offset = ~0ull - 100;
    expect_layout_error("ring offset");
    h.rings[2].offset = r2.offset + 8;  // misaligned atomics
    expect_layout_error("ring alignment");
    h.rings[2] = h.rings[3];  // the same ring twice, one missing
    expect_layout_error("duplicate ring");
    h.rings[2] = r2;
    auto* rh = reinterpret_cast<RingHeader*>((*dp)->base() + r2.offset);
    rh->slot_count = 1u << 31;  // beyond the segment
    expect_layout_error("slot_count");
    rh->slot_count = 16;
    h.worker_count = 3;  // ring_count no longer matches
    expect_layout_error("worker_count");
    h.worker_count = 2;
    EXPECT_TRUE(Channel::attach(path).ok());
}

TEST(ShmRing, AConsumerIgnoresAHeadMoreThanARingAhead) {
    auto path = temp_path("head");
    auto dp = Channel::create(path, ChannelOptions{1, 16, 16, 16, 16});
    auto cp = Channel::attach(path);
    ASSERT_TRUE(dp.ok() && cp.ok());
    auto* rh = reinterpret_cast<RingHeader*>((*dp)->base() + (*dp)->header().rings[2].offset);
    rh->head.store(17);  // 17 slots published in a 16-slot ring
    EXPECT_EQ((*cp)->dp_to_cp(0).peek(), nullptr);
    rh->head.store(~0ull);  // "behind" the tail
    EXPECT_EQ((*cp)->dp_to_cp(0).peek(), nullptr);
    // The same at attach: a head a million slots ahead is not a million messages to replay.
    rh->head.store(1'000'000);
    auto again = Channel::attach(path);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ((*again)->dp_to_cp(0).peek(), nullptr);
}

// ---- TcpDeliver has its own ring per worker ----

TEST(ShmChannel, DefaultSizesAreTheDocumentedOnes) {  // docs/shm-channel.md "Segment layout"
    auto one = Channel::create(temp_path("size1"), ChannelOptions{});
    ASSERT_TRUE(one.ok()) << one.error();
    EXPECT_EQ((*one)->size(), 54'579'200u);  // version 7: 8 TX rings of 512 slots
    // (41 counters in version 6: 328 bytes, a 384-byte stride; two blocks, worker 0's and the main lcore's.)
    EXPECT_EQ((*one)->header().counter_count, kDpCounterCount);
    EXPECT_EQ((*one)->header().counter_stride, (kDpCounterCount * 8 + 63) / 64 * 64);
    ChannelOptions two;
    two.workers = 2;
    auto b = Channel::create(temp_path("size2"), two);
    ASSERT_TRUE(b.ok()) << b.error();
    EXPECT_EQ((*b)->size(), 54'579'200u + 12'591'104u);
    EXPECT_EQ((*b)->header().ring_count, 13u);
    EXPECT_EQ((*b)->header().rings[5].kind, static_cast<uint32_t>(RingKind::DpToCpDeliver));
    EXPECT_EQ((*b)->header().rings[5].index, 1u);
    // Version 7: TX rings 1..7 (the control-plane workers') after the worker rings.
    EXPECT_EQ((*b)->header().tx_ring_count, kMaxTxRings);
    EXPECT_EQ((*b)->header().rings[6].kind, static_cast<uint32_t>(RingKind::CpToDpTx));
    EXPECT_EQ((*b)->header().rings[6].index, 1u);
    EXPECT_EQ((*b)->header().rings[12].index, 7u);
}

TEST(ShmChannel, EachControlPlaneThreadHasATxRingWhileTheTableHasRoom) {
    auto path = temp_path("txrings");
    auto dp = Channel::create(path, ChannelOptions{2, 16, 16, 16, 16});
    auto cp = Channel::attach(path);
    ASSERT_TRUE(dp.ok() && cp.ok());
    ASSERT_EQ((*cp)->tx_rings(), kMaxTxRings);
    // A frame on TX ring 3 reaches the dataplane's ring 3 and no other.
    uint8_t* slot = (*cp)->tx(3).reserve();
    ASSERT_NE(slot, nullptr);
    write_msg(slot, MsgType::TxFrame, nullptr, 0);
    (*cp)->tx(3).commit();
    for (uint32_t i = 0; i < kMaxTxRings; ++i) EXPECT_EQ((*dp)->tx(i).peek() != nullptr, i == 3) << i;
    // 62 workers fill the ring table: one TX ring, shared by every control-plane thread.
    ChannelOptions full;
    full.workers = kMaxWorkers;
    full.control_slots = full.tx_slots = full.dp_to_cp_slots = full.deliver_slots = 16;
    auto big = Channel::create(temp_path("txrings62"), full);
    ASSERT_TRUE(big.ok()) << big.error();
    EXPECT_EQ((*big)->tx_rings(), 1u);
    EXPECT_EQ((*big)->header().ring_count, kMaxRings);
    // An attach refuses a TX ring count that does not match the ring table.
    (*dp)->header().tx_ring_count = 7;
    EXPECT_FALSE(Channel::attach(path).ok());
}

TEST(ShmChannel, AFullPuntRingLeavesTheDeliverRingFree) {
    auto path = temp_path("rings");
    auto dp = Channel::create(path, ChannelOptions{2, 16, 16, 8, 8});
    auto cp = Channel::attach(path);
    ASSERT_TRUE(dp.ok() && cp.ok());
    for (uint32_t w = 0; w < 2; ++w) {
        SpscRing& punts = (*dp)->dp_to_cp(w);
        int n = 0;
        while (uint8_t* s = punts.reserve()) {
            write_msg(s, MsgType::Punt, nullptr, 0);
            punts.commit();
            ++n;
        }
        EXPECT_EQ(n, 8);
        EXPECT_NE((*dp)->deliver(w).reserve(), nullptr);
        EXPECT_EQ((*cp)->deliver(w).peek(), nullptr);
        EXPECT_NE((*cp)->dp_to_cp(w).peek(), nullptr);
    }
}

// ---- message validation (messages.hpp) ----

std::vector<uint8_t> data_frame(size_t payload, uint8_t type = 3) {
    std::vector<uint8_t> f(kFrameHeaderSize + payload, 0xab);
    EXPECT_TRUE(encode_header(static_cast<FrameType>(type), payload, std::span<uint8_t>(f.data(), 8)).ok());
    return f;
}

// A slot holding a TcpDeliver with `frame`; frame_len and len overridable.
std::vector<uint8_t> deliver_slot(const std::vector<uint8_t>& frame, int frame_len = -1, int len = -1) {
    std::vector<uint8_t> slot(kSlotSize, 0);
    TcpDeliverMsg m{};
    m.src_client = 1;
    m.dst_client = 2;
    m.cp_epoch = 77;
    m.frame_len = static_cast<uint16_t>(frame_len < 0 ? frame.size() : static_cast<size_t>(frame_len));
    std::memcpy(m.frame, frame.data(), std::min<size_t>(frame.size(), kMaxFrameInSlot));
    write_msg(slot.data(), MsgType::TcpDeliver, &m, offsetof(TcpDeliverMsg, frame) + std::min<size_t>(frame.size(), kMaxFrameInSlot));
    if (len >= 0) {
        const uint32_t l = static_cast<uint32_t>(len);
        std::memcpy(slot.data() + 4, &l, 4);
    }
    return slot;
}

TEST(ShmMessages, TcpDeliverMustBeExactlyOneDataFrame) {
    DeliverView v;
    auto ok = deliver_slot(data_frame(100));
    ASSERT_EQ(parse_deliver(ok.data(), v), MsgCheck::Ok);
    EXPECT_EQ(v.src_client, 1u);
    EXPECT_EQ(v.dst_client, 2u);
    EXPECT_EQ(v.cp_epoch, 77u);
    EXPECT_EQ(v.frame_len, 108u);
    // Two frames in one message (the second one would be injected into the client's stream).
    auto two = data_frame(100);
    auto second = data_frame(20, 4);
    two.insert(two.end(), second.begin(), second.end());
    EXPECT_EQ(parse_deliver(deliver_slot(two).data(), v), MsgCheck::BadFrame);
    EXPECT_EQ(parse_deliver(deliver_slot(data_frame(100, 2)).data(), v), MsgCheck::BadFrame);      // KeepAlive
    EXPECT_EQ(parse_deliver(deliver_slot(data_frame(100), 50).data(), v), MsgCheck::BadFrame);     // cut short
    EXPECT_EQ(parse_deliver(deliver_slot(data_frame(3)).data(), v), MsgCheck::Ok);
    EXPECT_EQ(parse_deliver(deliver_slot(data_frame(3), 5).data(), v), MsgCheck::BadFrame);        // < header
    auto bad_magic = data_frame(10);
    bad_magic[0] ^= 1;
    EXPECT_EQ(parse_deliver(deliver_slot(bad_magic).data(), v), MsgCheck::BadFrame);
    // Lengths: frame_len beyond len, len beyond the slot, len shorter than the fixed part.
    EXPECT_EQ(parse_deliver(deliver_slot(data_frame(100), 108, 32 + 100).data(), v), MsgCheck::BadLength);
    EXPECT_EQ(parse_deliver(deliver_slot(data_frame(100), 108, kMaxBody + 1).data(), v), MsgCheck::BadLength);
    EXPECT_EQ(parse_deliver(deliver_slot(data_frame(100), 108, 31).data(), v), MsgCheck::BadLength);
    EXPECT_EQ(parse_deliver(deliver_slot(data_frame(100), 0xffff, kMaxBody).data(), v), MsgCheck::BadLength);
    PuntView p;
    EXPECT_EQ(parse_punt(ok.data(), p), MsgCheck::BadType);
}

TEST(ShmMessages, PuntAndTxFrameLengthsAreChecked) {
    std::vector<uint8_t> slot(kSlotSize, 0);
    PuntMsg m{};
    m.from.family = 4;
    m.from.port = 1;
    m.frame_len = 100;
    write_msg(slot.data(), MsgType::Punt, &m, offsetof(PuntMsg, frame) + 100);
    PuntView p;
    ASSERT_EQ(parse_punt(slot.data(), p), MsgCheck::Ok);
    EXPECT_EQ(p.frame_len, 100u);
    m.frame_len = 101;  // beyond len
    write_msg(slot.data(), MsgType::Punt, &m, offsetof(PuntMsg, frame) + 100);
    EXPECT_EQ(parse_punt(slot.data(), p), MsgCheck::BadLength);
    m.frame_len = 0xffff;
    write_msg(slot.data(), MsgType::Punt, &m, kMaxBody);
    EXPECT_EQ(parse_punt(slot.data(), p), MsgCheck::BadLength);
    TxFrameMsg t{};
    t.to.family = 6;
    t.to.port = 9;
    t.frame_len = 10;
    write_msg(slot.data(), MsgType::TxFrame, &t, offsetof(TxFrameMsg, frame) + 10);
    TxFrameView tv;
    EXPECT_EQ(parse_txframe(slot.data(), tv), MsgCheck::Ok);
    t.to.family = 5;
    write_msg(slot.data(), MsgType::TxFrame, &t, offsetof(TxFrameMsg, frame) + 10);
    EXPECT_EQ(parse_txframe(slot.data(), tv), MsgCheck::BadFrame);
    MsgHeader h{static_cast<uint16_t>(MsgType::ClusterSet), 0, kMaxBody + 1};
    std::memcpy(slot.data(), &h, sizeof h);
    MsgHeader out;
    EXPECT_EQ(parse_control_header(slot.data(), out), MsgCheck::BadLength);
}

TEST(ShmMessages, LinkTxCarriesExactlyOneDataFrame) {
    std::vector<uint8_t> slot(kSlotSize, 0);
    LinkTxMsg m{};
    m.dst_client = 7;
    m.dst_ip = 0x0a000102;
    const std::vector<uint8_t> f = data_frame(100);
    m.frame_len = static_cast<uint16_t>(f.size());
    std::memcpy(m.frame, f.data(), f.size());
    write_msg(slot.data(), MsgType::LinkTx, &m, offsetof(LinkTxMsg, frame) + f.size());
    LinkTxView v;
    ASSERT_EQ(parse_linktx(slot.data(), v), MsgCheck::Ok);
    EXPECT_EQ(v.dst_client, 7u);
    EXPECT_EQ(v.dst_ip, 0x0a000102u);
    EXPECT_EQ(v.frame_len, f.size());
    m.frame[5] = 2;  // a KeepAlive: the receiving member would write it into a client's stream
    write_msg(slot.data(), MsgType::LinkTx, &m, offsetof(LinkTxMsg, frame) + f.size());
    EXPECT_EQ(parse_linktx(slot.data(), v), MsgCheck::BadFrame);
    m.frame[5] = 3;
    m.frame_len = static_cast<uint16_t>(f.size() + 1);  // beyond len
    write_msg(slot.data(), MsgType::LinkTx, &m, offsetof(LinkTxMsg, frame) + f.size());
    EXPECT_EQ(parse_linktx(slot.data(), v), MsgCheck::BadLength);
    TxFrameView tv;
    EXPECT_EQ(parse_txframe(slot.data(), tv), MsgCheck::BadType);
}

// docs/shm-channel.md states the version and the counter count of this build (it once said 38
// counters when the code had 35): a change of either must change the page too.
TEST(ShmChannel, TheDocumentedVersionAndCounterCountAreThisBuilds) {
    std::ifstream f(std::string(RUSTUN_SOURCE_ROOT) + "/docs/shm-channel.md");
    ASSERT_TRUE(f) << "docs/shm-channel.md not found";
    const std::string doc((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    const std::string v = std::to_string(kChannelVersion), n = std::to_string(kDpCounterCount);
    EXPECT_NE(doc.find("**`kChannelVersion = " + v + "`**"), std::string::npos) << "the version at the top";
    EXPECT_NE(doc.find("`kChannelVersion` (" + v + ")"), std::string::npos) << "the `version` row";
    EXPECT_NE(doc.find("(" + n + " in version " + v), std::string::npos) << "the `counter_count` row";
    for (uint32_t ver = 1; ver <= kChannelVersion; ++ver)
        EXPECT_NE(doc.find("| " + std::to_string(ver) + " | " + std::to_string(kDpCounterCountOfVersion[ver]) + " |"),
                  std::string::npos)
            << "the counters-per-version table, version " << ver;
}

}  // namespace
}  // namespace rustun::shm

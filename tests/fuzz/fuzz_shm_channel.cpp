// libFuzzer target for the shared-memory channel, each side playing against a hostile peer
// (docs/shm-channel.md "Validation"). A channel (2 workers, 8-slot rings) is created once in a
// private directory; every run restores its pristine bytes, builds fresh dataplane-side ring
// views, and lets the input act as the other process:
//
//   input  = [n_pre] patch * n_pre  [n_post] patch * n_post  message * ...
//   patch  = [region u8] [offset u16 LE] [len u8] bytes[len % 17]
//            region % (1 + rings): 0 = the segment header (offset % kHeaderBytes),
//            i = the RingHeader of ring i-1 (offset % sizeof(RingHeader)): head, tail, sizes
//   message = [ring u8] [len u16 LE] bytes[len]: raw slot contents (header + body, any bytes),
//            produced into ring % 6 (control, tx, punt 0/1, deliver 0/1)
//
// The "pre" patches land before the control plane attaches (attach must refuse or survive them),
// the "post" patches after it (nothing validated at attach may be read again). Then both sides'
// consumers run: the dataplane's control ring (StateManager::apply, the real one) and TX ring
// (parse_txframe, parse_linktx), the control plane's deliver and punt rings (parse_deliver/parse_punt) and the
// counters. Invariants checked beyond "no crash" (ASan/UBSan): every accepted TcpDeliver is
// exactly one Data frame inside the slot; every accepted Punt/TxFrame lies inside the slot.
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "proto/frame.hpp"
#include "shm/channel.hpp"
#include "shm/messages.hpp"
#include "state.hpp"

namespace {

using namespace rustun;
using namespace rustun::shm;
using rustun::dp::EndpointKey;
using rustun::dp::StateManager;

constexpr uint32_t kWorkers = 2;
constexpr uint32_t kSlots = 8;

// A private directory (mkdtemp: 0700, ours), removed at exit (libFuzzer exits normally at the
// end of -max_total_time/-runs; a crash leaves it for the post-mortem).
struct TempDir {
    std::string dir;
    TempDir() {
        char tmpl[] = "/dev/shm/rustun-fuzz-XXXXXX";
        const char* d = ::mkdtemp(tmpl);
        if (d == nullptr) std::abort();
        dir = d;
    }
    ~TempDir() { std::filesystem::remove_all(dir); }
};

const std::string& channel_path() {
    static TempDir d;
    static const std::string path = d.dir + "/channel";
    return path;
}

struct Reader {
    const uint8_t* p;
    size_t n;
    bool take(void* out, size_t k) {
        if (n < k) return false;
        std::memcpy(out, p, k);
        p += k;
        n -= k;
        return true;
    }
    template <typename T>
    bool get(T& v) {
        return take(&v, sizeof v);
    }
};

// Where the dataplane put each ring, copied right after create (patches may change the table).
RingDesc g_descs[kMaxRings];

// The dataplane's side of the channel for one run: the mapping and fresh ring views.
struct DpSide {
    uint8_t* base;
    SpscRing rings[2 + 2 * kWorkers];  // control, tx, punt 0, punt 1, deliver 0, deliver 1
};

void apply_patches(Reader& in, DpSide& dp) {
    uint8_t count = 0;
    if (!in.get(count)) return;
    for (uint8_t i = 0; i < count % 16; ++i) {
        uint8_t region = 0, len = 0;
        uint16_t off = 0;
        if (!in.get(region) || !in.get(off) || !in.get(len)) return;
        len %= 17;
        uint8_t bytes[16];
        if (!in.take(bytes, len)) return;
        // The dataplane side's own view of where things are (its layout is pristine).
        const uint32_t rings = 2 + 2 * kWorkers;
        const uint32_t r = region % (1 + rings);
        size_t base, span;
        if (r == 0) {
            base = 0;
            span = kHeaderBytes;
        } else {
            base = static_cast<size_t>(g_descs[r - 1].offset);
            span = sizeof(RingHeader);
        }
        const size_t o = off % span;
        const size_t k = std::min<size_t>(len, span - o);
        std::memcpy(dp.base + base + o, bytes, k);
    }
}

SpscRing& ring_for(DpSide& dp, uint8_t sel) { return dp.rings[sel % 6]; }

bool inside(const uint8_t* p, size_t n, const uint8_t* slot) {
    return p >= slot && p + n <= slot + kSlotSize;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // Created once (creating and unmapping per run costs TLB shootdowns); restored every run.
    static std::unique_ptr<Channel> created;
    static std::vector<uint8_t> pristine;
    if (!created) {
        auto c = Channel::create(channel_path(), ChannelOptions{kWorkers, kSlots, kSlots, kSlots, kSlots});
        if (!c) std::abort();
        created = std::move(*c);
        std::memcpy(g_descs, created->header().rings, sizeof g_descs);
        pristine.assign(created->base(), created->base() + created->size());
    }
    std::memcpy(created->base(), pristine.data(), pristine.size());
    DpSide dp{created->base(), {}};
    for (uint32_t i = 0; i < 2 + 2 * kWorkers; ++i) {
        // Rings in creation order: control, tx, punt w, deliver w (RingDesc table order).
        const uint32_t slot = i < 2 ? i : (g_descs[i].kind == static_cast<uint32_t>(RingKind::DpToCp) ? 2 : 4) + g_descs[i].index;
        dp.rings[slot] = SpscRing(dp.base + g_descs[i].offset, kSlots, kSlotSize);
    }
    Reader in{data, size};

    // Messages go in after the patch sections; find them by skipping the patches first.
    Reader pre = in;
    apply_patches(pre, dp);
    Reader post = pre;
    {
        // Skip the post patches now (applied after attach) to reach the messages.
        Reader skip = post;
        uint8_t count = 0;
        if (skip.get(count))
            for (uint8_t i = 0; i < count % 16; ++i) {
                uint8_t region = 0, len = 0;
                uint16_t off = 0;
                if (!skip.get(region) || !skip.get(off) || !skip.get(len)) break;
                uint8_t bytes[16];
                if (!skip.take(bytes, len % 17)) break;
            }
        Reader msgs = skip;
        for (;;) {
            uint8_t sel = 0;
            uint16_t len = 0;
            if (!msgs.get(sel) || !msgs.get(len)) break;
            len = static_cast<uint16_t>(std::min<size_t>({len, msgs.n, kSlotSize}));
            SpscRing& r = ring_for(dp, sel);
            uint8_t* slot = r.reserve();
            if (slot != nullptr) {
                std::memset(slot, 0, kSlotSize);
                std::memcpy(slot, msgs.p, len);
                r.commit();
            }
            msgs.p += len;
            msgs.n -= len;
        }
    }

    // The control plane attaches (or refuses), then the "dataplane" changes things under it.
    auto attached = Channel::attach(channel_path());
    apply_patches(post, dp);

    alignas(64) static uint8_t copy[kSlotSize];
    // ---- the dataplane's consumers: control ring (the real StateManager) and TX ring ----
    {
        StateManager state(64, kWorkers, [](const EndpointKey&) { return uint64_t{0}; });
        drain_ring(dp.rings[0], 64, copy, [&](const uint8_t* c) {
            MsgHeader h;
            if (parse_control_header(c, h) != MsgCheck::Ok) return;
            state.apply(h, msg_body(c), 1000);
            state.reclaim();
        });
        drain_ring(dp.rings[1], 64, copy, [&](const uint8_t* c) {
            LinkTxView lv;
            if (parse_linktx(c, lv) == MsgCheck::Ok && !inside(lv.frame, lv.frame_len, c)) std::abort();
            TxFrameView v;
            if (parse_txframe(c, v) != MsgCheck::Ok) return;
            if (!inside(v.frame, v.frame_len, c) || (v.to.family != 4 && v.to.family != 6)) std::abort();
        });
    }
    // ---- the control plane's consumers: deliver rings first, then punts; counters ----
    if (attached) {
        Channel& cp = **attached;
        if (cp.workers() != kWorkers) std::abort();  // only the pristine layout can be accepted
        uint64_t sum = 0;
        for (size_t c = 0; c < kDpCounterCount; ++c) sum += cp.counter_total(static_cast<DpCounter>(c));
        (void)sum;
        (void)cp.header().dp_state.load();
        for (uint32_t w = 0; w < cp.workers(); ++w) {
            drain_ring(cp.deliver(w), 64, copy, [&](const uint8_t* c) {
                DeliverView v;
                if (parse_deliver(c, v) != MsgCheck::Ok) return;
                FrameHeader fh;
                if (!inside(v.frame, v.frame_len, c) ||
                    decode_header(std::span<const uint8_t>(v.frame, v.frame_len), fh) != HeaderStatus::Ok ||
                    fh.frame_type() != FrameType::Data || fh.frame_size() != v.frame_len)
                    std::abort();
            });
            drain_ring(cp.dp_to_cp(w), 64, copy, [&](const uint8_t* c) {
                PuntView v;
                if (parse_punt(c, v) != MsgCheck::Ok) return;
                if (!inside(v.frame, v.frame_len, c)) std::abort();
            });
        }
        // The producer side too: a tail from the other process cannot make it write outside.
        for (SpscRing* r : {&cp.control(), &cp.tx()}) {
            for (int i = 0; i < 12; ++i) {
                uint8_t* s = r->reserve();
                if (s == nullptr) break;
                if (s < cp.base() || s + kSlotSize > cp.base() + cp.size()) std::abort();
                write_msg(s, MsgType::Commit, nullptr, 0);
                r->commit();
            }
        }
    }
    return 0;
}

#include "shm/channel.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace rustun::shm {

namespace {

bool pow2(uint32_t v) { return v && !(v & (v - 1)); }

size_t round_up(size_t v, size_t a) { return (v + a - 1) / a * a; }

}  // namespace

Channel::~Channel() {
    if (base_) ::munmap(base_, size_);
}

Result<std::unique_ptr<Channel>> Channel::create(const std::string& path, const ChannelOptions& opt) {
    if (opt.workers == 0 || opt.workers > kMaxWorkers)
        return make_error("channel: workers must be 1.." + std::to_string(kMaxWorkers));
    if (!pow2(opt.control_slots) || !pow2(opt.tx_slots) || !pow2(opt.dp_to_cp_slots))
        return make_error("channel: ring sizes must be powers of two");
    const uint64_t stride = round_up(kDpCounterCount * sizeof(uint64_t), kCacheLine);
    size_t off = kHeaderBytes;
    const size_t counters_off = off;
    off += round_up(stride * opt.workers, 4096);
    std::vector<RingDesc> descs;
    auto add = [&](RingKind k, uint32_t index, uint32_t slots) {
        descs.push_back(RingDesc{off, static_cast<uint32_t>(k), index});
        off += round_up(ring_bytes(slots, kSlotSize), 4096);
    };
    add(RingKind::CpToDpControl, 0, opt.control_slots);
    add(RingKind::CpToDpTx, 0, opt.tx_slots);
    for (uint32_t w = 0; w < opt.workers; ++w) add(RingKind::DpToCp, w, opt.dp_to_cp_slots);

    // A new file (new inode) every time: an attached control plane notices the restart.
    ::unlink(path.c_str());
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return make_error("channel: create " + path + ": " + strerror(errno));
    if (::ftruncate(fd, static_cast<off_t>(off)) < 0) {
        std::string e = strerror(errno);
        ::close(fd);
        return make_error("channel: size " + path + ": " + e);
    }
    void* p = ::mmap(nullptr, off, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    struct stat st {};
    ::fstat(fd, &st);
    ::close(fd);
    if (p == MAP_FAILED) return make_error("channel: mmap " + path + ": " + strerror(errno));

    std::unique_ptr<Channel> ch(new Channel());
    ch->path_ = path;
    ch->base_ = static_cast<uint8_t*>(p);
    ch->size_ = off;
    ch->inode_ = st.st_ino;
    auto* h = new (p) SegmentHeader{};
    h->version = kChannelVersion;
    h->header_bytes = kHeaderBytes;
    h->segment_bytes = off;
    uint64_t epoch = 0;
    while (epoch == 0)
        if (::getrandom(&epoch, sizeof epoch, 0) != sizeof epoch) epoch = static_cast<uint64_t>(::time(nullptr));
    h->dp_epoch = epoch;
    h->slot_size = kSlotSize;
    h->ring_count = static_cast<uint32_t>(descs.size());
    h->worker_count = opt.workers;
    h->counter_count = static_cast<uint32_t>(kDpCounterCount);
    h->counters_offset = counters_off;
    h->counter_stride = stride;
    h->dp_pid = static_cast<uint32_t>(::getpid());
    for (size_t i = 0; i < descs.size(); ++i) {
        h->rings[i] = descs[i];
        uint32_t slots = descs[i].kind == static_cast<uint32_t>(RingKind::CpToDpControl) ? opt.control_slots
                         : descs[i].kind == static_cast<uint32_t>(RingKind::CpToDpTx) ? opt.tx_slots
                                                                                      : opt.dp_to_cp_slots;
        SpscRing::init(ch->base_ + descs[i].offset, slots, kSlotSize, descs[i].kind, descs[i].index);
    }
    ch->hdr_ = h;
    Status s = ch->map_rings();
    if (!s) return make_error(s.error());
    h->magic.store(kChannelMagic, std::memory_order_release);  // published
    return ch;
}

Result<std::unique_ptr<Channel>> Channel::attach(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return make_error("channel " + path + ": " + strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) < 0 || st.st_size < static_cast<off_t>(kHeaderBytes)) {
        ::close(fd);
        return make_error("channel " + path + ": too small to be a channel (" + std::to_string(st.st_size) + " bytes)");
    }
    void* p = ::mmap(nullptr, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    if (p == MAP_FAILED) return make_error("channel: mmap " + path + ": " + strerror(errno));
    std::unique_ptr<Channel> ch(new Channel());
    ch->path_ = path;
    ch->base_ = static_cast<uint8_t*>(p);
    ch->size_ = static_cast<size_t>(st.st_size);
    ch->inode_ = st.st_ino;
    ch->hdr_ = reinterpret_cast<SegmentHeader*>(p);
    const SegmentHeader& h = *ch->hdr_;
    if (h.magic.load(std::memory_order_acquire) != kChannelMagic)
        return make_error("channel " + path + ": not initialised (bad magic)");
    if (h.version != kChannelVersion)
        return make_error("channel " + path + ": version " + std::to_string(h.version) + ", expected " +
                          std::to_string(kChannelVersion) + " (dataplane and control plane from different builds?)");
    if (h.slot_size != kSlotSize || h.header_bytes != kHeaderBytes || h.segment_bytes != ch->size_ ||
        h.counter_count != kDpCounterCount || h.worker_count == 0 || h.worker_count > kMaxWorkers ||
        h.ring_count != h.worker_count + 2 || h.counter_stride < kDpCounterCount * sizeof(uint64_t) ||
        h.counter_stride % kCacheLine != 0 || h.counters_offset < kHeaderBytes ||
        h.counters_offset + h.counter_stride * h.worker_count > ch->size_)
        return make_error("channel " + path + ": layout does not match this build");
    Status s = ch->map_rings();
    if (!s) return make_error(s.error());
    ch->control_.attach_producer();
    ch->tx_.attach_producer();
    for (auto& r : ch->dp_to_cp_) r.attach_consumer();
    return ch;
}

Status Channel::map_rings() {
    dp_to_cp_.assign(hdr_->worker_count, SpscRing());
    for (uint32_t i = 0; i < hdr_->ring_count; ++i) {
        const RingDesc& d = hdr_->rings[i];
        if (d.offset + sizeof(RingHeader) > size_) return make_error("channel: ring " + std::to_string(i) + " outside the segment");
        auto* rh = reinterpret_cast<RingHeader*>(base_ + d.offset);
        if (!pow2(rh->slot_count) || rh->slot_size != kSlotSize ||
            d.offset + ring_bytes(rh->slot_count, rh->slot_size) > size_)
            return make_error("channel: ring " + std::to_string(i) + " has a bad size");
        SpscRing r(base_ + d.offset);
        switch (static_cast<RingKind>(d.kind)) {
            case RingKind::CpToDpControl: control_ = r; break;
            case RingKind::CpToDpTx: tx_ = r; break;
            case RingKind::DpToCp:
                if (d.index >= dp_to_cp_.size()) return make_error("channel: bad worker ring index");
                dp_to_cp_[d.index] = r;
                break;
            default: return make_error("channel: unknown ring kind " + std::to_string(d.kind));
        }
    }
    if (!control_.valid() || !tx_.valid()) return make_error("channel: control or tx ring missing");
    for (auto& r : dp_to_cp_)
        if (!r.valid()) return make_error("channel: a worker ring is missing");
    return {};
}

std::atomic<uint64_t>* Channel::counters(uint32_t w) {
    return reinterpret_cast<std::atomic<uint64_t>*>(base_ + hdr_->counters_offset + w * hdr_->counter_stride);
}

uint64_t Channel::counter_total(DpCounter c) {
    uint64_t v = 0;
    for (uint32_t w = 0; w < hdr_->worker_count; ++w) v += counters(w)[static_cast<size_t>(c)].load(std::memory_order_relaxed);
    return v;
}

bool Channel::still_current() const {
    struct stat st {};
    if (::stat(path_.c_str(), &st) < 0) return false;
    return static_cast<uint64_t>(st.st_ino) == inode_;
}

}  // namespace rustun::shm

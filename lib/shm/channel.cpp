#include "shm/channel.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace rustun::shm {

namespace {

bool pow2(uint32_t v) { return v && !(v & (v - 1)); }

size_t round_up(size_t v, size_t a) { return (v + a - 1) / a * a; }

std::string octal(unsigned mode) {
    char b[16];
    std::snprintf(b, sizeof b, "0%03o", mode & 07777);
    return b;
}

bool one_of_our_groups(gid_t g) {
    if (g == ::getegid()) return true;
    gid_t groups[256];
    const int n = ::getgroups(256, groups);
    for (int i = 0; i < n; ++i)
        if (groups[i] == g) return true;
    return false;
}

// Empty if the directory open as `dfd` is safe to hold a channel; otherwise why not.
// `strict`: also require the owner to be our euid or root (the control plane's check).
std::string unsafe_dir(int dfd, const std::string& dir, bool strict) {
    struct stat st {};
    if (::fstat(dfd, &st) < 0) return "cannot stat directory " + dir + ": " + strerror(errno);
    if (!S_ISDIR(st.st_mode)) return dir + " is not a directory";
    if (st.st_mode & S_IWOTH)
        return "directory " + dir + " is world-writable (mode " + octal(st.st_mode) +
               "): anyone could replace the channel (use a directory such as /run/rustun)";
    if (strict && st.st_uid != ::geteuid() && st.st_uid != 0)
        return "directory " + dir + " is owned by uid " + std::to_string(st.st_uid) + ", neither us (uid " +
               std::to_string(::geteuid()) + ") nor root";
    if ((st.st_mode & S_IWGRP) && !one_of_our_groups(st.st_gid))
        return "directory " + dir + " is writable by group " + std::to_string(st.st_gid) + ", not one of ours";
    return {};
}

// Empty if the channel file is acceptable: a regular file owned by our euid or root, mode <= 0660.
std::string unsafe_file(const struct stat& st) {
    if (!S_ISREG(st.st_mode)) return "not a regular file";
    if (st.st_uid != ::geteuid() && st.st_uid != 0)
        return "owned by uid " + std::to_string(st.st_uid) + ", neither us (uid " + std::to_string(::geteuid()) +
               ") nor root";
    if ((st.st_mode & 07777) & ~static_cast<mode_t>(0660))
        return "mode " + octal(st.st_mode) + " is wider than 0660";
    return {};
}

// The layout fields of the header, read once from shared memory.
struct HeaderCopy {
    uint32_t version, header_bytes;
    uint64_t segment_bytes, dp_epoch;
    uint32_t slot_size, ring_count, worker_count, counter_count;
    uint64_t counters_offset, counter_stride;
    uint32_t dp_pid;
    RingDesc rings[kMaxRings];
};

template <typename T>
void load(T& out, const uint8_t* base, size_t off) {
    std::memcpy(&out, base + off, sizeof out);
}

HeaderCopy read_header(const uint8_t* b) {
    HeaderCopy h;
    load(h.version, b, offsetof(SegmentHeader, version));
    load(h.header_bytes, b, offsetof(SegmentHeader, header_bytes));
    load(h.segment_bytes, b, offsetof(SegmentHeader, segment_bytes));
    load(h.dp_epoch, b, offsetof(SegmentHeader, dp_epoch));
    load(h.slot_size, b, offsetof(SegmentHeader, slot_size));
    load(h.ring_count, b, offsetof(SegmentHeader, ring_count));
    load(h.worker_count, b, offsetof(SegmentHeader, worker_count));
    load(h.counter_count, b, offsetof(SegmentHeader, counter_count));
    load(h.counters_offset, b, offsetof(SegmentHeader, counters_offset));
    load(h.counter_stride, b, offsetof(SegmentHeader, counter_stride));
    load(h.dp_pid, b, offsetof(SegmentHeader, dp_pid));
    load(h.rings, b, offsetof(SegmentHeader, rings));
    return h;
}

// The dp_version field of a mapped segment of at least kHeaderBytes: up to its first NUL,
// anything but printable ASCII replaced by '?' (the segment is untrusted; this text is logged).
std::string read_dp_version(const uint8_t* b) {
    char raw[kVersionBytes];
    std::memcpy(raw, b + kDpVersionOffset, sizeof raw);
    std::string out;
    for (size_t i = 0; i < sizeof raw && raw[i] != '\0'; ++i)
        out.push_back(raw[i] >= ' ' && raw[i] <= '~' ? raw[i] : '?');
    return out;
}

}  // namespace

std::pair<std::string, std::string> split_channel_path(const std::string& path) {
    const size_t slash = path.rfind('/');
    if (slash == std::string::npos) return {".", path};
    return {slash == 0 ? "/" : path.substr(0, slash), path.substr(slash + 1)};
}

Channel::~Channel() {
    if (base_) ::munmap(base_, size_);
}

Result<std::unique_ptr<Channel>> Channel::create(const std::string& path, const ChannelOptions& opt) {
    if (opt.workers == 0 || opt.workers > kMaxWorkers)
        return make_error("channel: workers must be 1.." + std::to_string(kMaxWorkers));
    if (!pow2(opt.control_slots) || !pow2(opt.tx_slots) || !pow2(opt.dp_to_cp_slots) || !pow2(opt.deliver_slots))
        return make_error("channel: ring sizes must be powers of two");
    const auto [dir, name] = split_channel_path(path);
    if (name.empty() || name == "." || name == "..") return make_error("channel: " + path + " does not name a file");
    const uint64_t stride = round_up(kDpCounterCount * sizeof(uint64_t), kCacheLine);
    size_t off = kHeaderBytes;
    const size_t counters_off = off;
    off += round_up(stride * counter_blocks(opt.workers), 4096);
    std::vector<RingDesc> descs;
    std::vector<uint32_t> slots;
    auto add = [&](RingKind k, uint32_t index, uint32_t n) {
        descs.push_back(RingDesc{off, static_cast<uint32_t>(k), index});
        slots.push_back(n);
        off += round_up(ring_bytes(n, kSlotSize), 4096);
    };
    add(RingKind::CpToDpControl, 0, opt.control_slots);
    add(RingKind::CpToDpTx, 0, opt.tx_slots);
    for (uint32_t w = 0; w < opt.workers; ++w) add(RingKind::DpToCp, w, opt.dp_to_cp_slots);
    for (uint32_t w = 0; w < opt.workers; ++w) add(RingKind::DpToCpDeliver, w, opt.deliver_slots);

    // The directory: created 0700 (0750 with the group) if missing; never a world-writable one.
    const mode_t dmode = opt.group >= 0 ? 0750 : 0700;
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 && errno == ENOENT) {
        if (::mkdir(dir.c_str(), dmode) < 0 && errno != EEXIST)
            return make_error("channel: create directory " + dir + ": " + strerror(errno));
        dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (dfd >= 0) {
            ::fchmod(dfd, dmode);  // mkdir's mode went through the umask
            if (opt.group >= 0 && ::fchown(dfd, static_cast<uid_t>(-1), static_cast<gid_t>(opt.group)) < 0) {
                std::string e = strerror(errno);
                ::close(dfd);
                return make_error("channel: directory " + dir + ": set group " + std::to_string(opt.group) + ": " + e);
            }
        }
    }
    if (dfd < 0) return make_error("channel: directory " + dir + ": " + strerror(errno));
    if (std::string why = unsafe_dir(dfd, dir, true); !why.empty()) {
        ::close(dfd);
        return make_error("channel: " + why);
    }
    // A new file (new inode) every time: an attached control plane notices the restart.
    const mode_t fmode = opt.group >= 0 ? 0660 : 0600;
    ::unlinkat(dfd, name.c_str(), 0);
    int fd = ::openat(dfd, name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, fmode);
    ::close(dfd);
    if (fd < 0) return make_error("channel: create " + path + ": " + strerror(errno));
    if (::fchmod(fd, fmode) < 0 ||
        (opt.group >= 0 && ::fchown(fd, static_cast<uid_t>(-1), static_cast<gid_t>(opt.group)) < 0) ||
        ::ftruncate(fd, static_cast<off_t>(off)) < 0) {
        std::string e = strerror(errno);
        ::close(fd);
        ::unlink(path.c_str());
        return make_error("channel: set up " + path + ": " + e);
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
    ch->dev_ = st.st_dev;
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
    opt.software_version.copy(h->dp_version, std::min(opt.software_version.size(), kVersionBytes - 1));
    for (size_t i = 0; i < descs.size(); ++i) {
        h->rings[i] = descs[i];
        SpscRing::init(ch->base_ + descs[i].offset, slots[i], kSlotSize, descs[i].kind, descs[i].index);
    }
    ch->hdr_ = h;
    ch->dp_epoch_ = epoch;
    ch->dp_pid_ = h->dp_pid;
    ch->workers_ = opt.workers;
    ch->counters_offset_ = counters_off;
    ch->counter_stride_ = stride;
    Status s = ch->map_rings(descs.data(), static_cast<uint32_t>(descs.size()));
    if (!s) return make_error(s.error());
    h->magic.store(kChannelMagic, std::memory_order_release);  // published
    return ch;
}

Result<std::unique_ptr<Channel>> Channel::attach(const std::string& path, AttachFailure* why) {
    auto fail = [&](AttachFailure f, const std::string& msg) {
        if (why) *why = f;
        return make_error("channel " + path + ": " + msg);
    };
    if (why) *why = AttachFailure::None;
    const auto [dir, name] = split_channel_path(path);
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return fail(errno == ENOENT ? AttachFailure::Absent : AttachFailure::Unsafe,
                    "directory " + dir + ": " + strerror(errno));
    if (std::string bad = unsafe_dir(dfd, dir, true); !bad.empty()) {
        ::close(dfd);
        return fail(AttachFailure::Unsafe, "refused: " + bad);
    }
    // O_NOFOLLOW: a symbolic link is refused (ELOOP); O_NONBLOCK: a FIFO cannot block us.
    int fd = ::openat(dfd, name.c_str(), O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    const int open_errno = errno;
    ::close(dfd);
    if (fd < 0) {
        if (open_errno == ENOENT) return fail(AttachFailure::Absent, strerror(open_errno));
        if (open_errno == ELOOP) return fail(AttachFailure::Unsafe, "refused: a symbolic link");
        return fail(AttachFailure::Unsafe, std::string("refused: ") + strerror(open_errno));
    }
    struct stat st {};
    if (::fstat(fd, &st) < 0) {
        ::close(fd);
        return fail(AttachFailure::Unsafe, std::string("fstat: ") + strerror(errno));
    }
    if (std::string bad = unsafe_file(st); !bad.empty()) {
        ::close(fd);
        return fail(AttachFailure::Unsafe, "refused: " + bad);
    }
    if (st.st_size < static_cast<off_t>(kHeaderBytes)) {
        ::close(fd);
        return fail(AttachFailure::NotReady, "too small to be a channel (" + std::to_string(st.st_size) + " bytes)");
    }
    void* p = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    if (p == MAP_FAILED) return fail(AttachFailure::Layout, std::string("mmap: ") + strerror(errno));
    std::unique_ptr<Channel> ch(new Channel());
    ch->path_ = path;
    ch->base_ = static_cast<uint8_t*>(p);
    ch->size_ = static_cast<size_t>(st.st_size);
    ch->inode_ = st.st_ino;
    ch->dev_ = st.st_dev;
    ch->hdr_ = reinterpret_cast<SegmentHeader*>(p);
    if (ch->hdr_->magic.load(std::memory_order_acquire) != kChannelMagic)
        return fail(AttachFailure::NotReady, "not initialised (bad magic)");
    // Every layout field is read once, here, checked, and kept privately.
    const HeaderCopy h = read_header(ch->base_);
    const std::string dp_version = read_dp_version(ch->base_);
    if (h.version != kChannelVersion)
        return fail(AttachFailure::Version,
                    "channel version " + std::to_string(h.version) + ", expected " + std::to_string(kChannelVersion) +
                        " (dataplane " + (dp_version.empty() ? std::string("of an older release") : dp_version) +
                        "; run both processes from one release)");
    const uint64_t size = ch->size_;
    // Overflow-safe: every `a + b <= size` is written `a <= size && b <= size - a`, and
    // products are bounded first (stride <= size, workers <= 62).
    const bool ok = h.slot_size == kSlotSize && h.header_bytes == kHeaderBytes && h.segment_bytes == size &&
                    h.counter_count == kDpCounterCount && h.worker_count >= 1 && h.worker_count <= kMaxWorkers &&
                    h.ring_count == 2 + 2 * h.worker_count && h.counter_stride >= kDpCounterCount * sizeof(uint64_t) &&
                    h.counter_stride % kCacheLine == 0 && h.counter_stride <= size &&
                    h.counters_offset >= kHeaderBytes && h.counters_offset % kCacheLine == 0 &&
                    h.counters_offset <= size &&
                    h.counter_stride * counter_blocks(h.worker_count) <= size - h.counters_offset;
    if (!ok) return fail(AttachFailure::Layout, "layout does not match this build");
    ch->dp_epoch_ = h.dp_epoch;
    ch->dp_pid_ = h.dp_pid;
    ch->dp_version_ = dp_version;
    ch->workers_ = h.worker_count;
    ch->counters_offset_ = h.counters_offset;
    ch->counter_stride_ = h.counter_stride;
    Status s = ch->map_rings(h.rings, h.ring_count);
    if (!s) return fail(AttachFailure::Layout, s.error());
    ch->control_.attach_producer();
    ch->tx_.attach_producer();
    for (auto& r : ch->dp_to_cp_) r.attach_consumer();
    for (auto& r : ch->deliver_) r.attach_consumer();
    return ch;
}

Status Channel::map_rings(const RingDesc* descs, uint32_t count) {
    dp_to_cp_.assign(workers_, SpscRing());
    deliver_.assign(workers_, SpscRing());
    control_ = tx_ = SpscRing();
    for (uint32_t i = 0; i < count && i < kMaxRings; ++i) {
        const RingDesc d = descs[i];
        const std::string which = "ring " + std::to_string(i);
        if (d.offset < kHeaderBytes || d.offset % kCacheLine != 0 || d.offset > size_ ||
            size_ - d.offset < sizeof(RingHeader))
            return make_error(which + " outside the segment");
        // Read the ring's description once; SpscRing keeps these values.
        uint32_t slot_count = 0, slot_size = 0;
        load(slot_count, base_ + d.offset, offsetof(RingHeader, slot_count));
        load(slot_size, base_ + d.offset, offsetof(RingHeader, slot_size));
        if (!pow2(slot_count) || slot_size != kSlotSize || ring_bytes(slot_count, slot_size) > size_ - d.offset)
            return make_error(which + " has a bad size");
        SpscRing r(base_ + d.offset, slot_count, slot_size);
        SpscRing* target = nullptr;
        switch (static_cast<RingKind>(d.kind)) {
            case RingKind::CpToDpControl: target = &control_; break;
            case RingKind::CpToDpTx: target = &tx_; break;
            case RingKind::DpToCp:
                if (d.index >= workers_) return make_error(which + ": bad worker index");
                target = &dp_to_cp_[d.index];
                break;
            case RingKind::DpToCpDeliver:
                if (d.index >= workers_) return make_error(which + ": bad worker index");
                target = &deliver_[d.index];
                break;
            default: return make_error(which + ": unknown kind " + std::to_string(d.kind));
        }
        if (target->valid()) return make_error(which + ": duplicate");
        *target = r;
    }
    if (!control_.valid() || !tx_.valid()) return make_error("control or tx ring missing");
    for (uint32_t w = 0; w < workers_; ++w)
        if (!dp_to_cp_[w].valid() || !deliver_[w].valid()) return make_error("a worker ring is missing");
    return {};
}

std::atomic<uint64_t>* Channel::block(uint32_t b) {
    return reinterpret_cast<std::atomic<uint64_t>*>(base_ + counters_offset_ + b * counter_stride_);
}

std::atomic<uint64_t>* Channel::counters(uint32_t w) { return block(w < workers_ ? w : 0); }

std::atomic<uint64_t>* Channel::main_counters() { return block(workers_); }

uint64_t Channel::counter_total(DpCounter c) {
    uint64_t v = 0;
    for (uint32_t b = 0; b < counter_blocks(workers_); ++b)
        v += block(b)[static_cast<size_t>(c)].load(std::memory_order_relaxed);
    return v;
}

bool Channel::still_current() const {
    struct stat st {};
    if (::lstat(path_.c_str(), &st) < 0) return false;
    return static_cast<uint64_t>(st.st_ino) == inode_ && static_cast<uint64_t>(st.st_dev) == dev_;
}

}  // namespace rustun::shm

#include "net/frame_stream.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "config/address.hpp"

namespace rustun {

namespace {

int remaining_ms(std::chrono::steady_clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

}  // namespace

Result<std::unique_ptr<FrameStream>> FrameStream::connect(std::string_view address, const CipherSpec& cipher,
                                                          int timeout_ms) {
    auto addr = parse_socket_address(address);
    if (!addr) return make_error(addr.error());
    auto key = CipherKey::create(cipher);
    if (!key) return make_error(key.error());
    auto engine = CryptoEngine::create();
    if (!engine) return make_error(engine.error());

    sockaddr_storage ss{};
    socklen_t sl;
    int family = addr->family == AddressFamily::V4 ? AF_INET : AF_INET6;
    if (family == AF_INET) {
        auto* s = reinterpret_cast<sockaddr_in*>(&ss);
        s->sin_family = AF_INET;
        s->sin_port = htons(addr->port);
        std::memcpy(&s->sin_addr, addr->bytes.data(), 4);
        sl = sizeof *s;
    } else {
        auto* s = reinterpret_cast<sockaddr_in6*>(&ss);
        s->sin6_family = AF_INET6;
        s->sin6_port = htons(addr->port);
        std::memcpy(&s->sin6_addr, addr->bytes.data(), 16);
        sl = sizeof *s;
    }
    int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return make_error(std::string("socket: ") + strerror(errno));
    if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), sl) < 0 && errno != EINPROGRESS) {
        std::string err = strerror(errno);
        ::close(fd);
        return make_error("connect " + std::string(address) + ": " + err);
    }
    pollfd p{fd, POLLOUT, 0};
    int err = 0;
    socklen_t el = sizeof err;
    if (::poll(&p, 1, timeout_ms) != 1 || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err != 0) {
        ::close(fd);
        return make_error("connect " + std::string(address) + ": " + (err ? strerror(err) : "timeout"));
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::unique_ptr<FrameStream> s(new FrameStream());
    s->fd_ = fd;
    s->key_ = std::move(key.value());
    s->engine_ = std::move(engine.value());
    return s;
}

FrameStream::~FrameStream() {
    if (fd_ >= 0) ::close(fd_);
}

void FrameStream::set_nonblocking_send(bool on) { nonblocking_send_ = on; }

Status FrameStream::send_raw(const void* data, size_t len) {
    const uint8_t* p = static_cast<const uint8_t*>(data);
    while (len > 0) {
        ssize_t w = ::send(fd_, p, len, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (nonblocking_send_) return make_error("would block");
                pollfd pfd{fd_, POLLOUT, 0};
                if (::poll(&pfd, 1, 5000) != 1) return make_error("send: timeout");
                continue;
            }
            return make_error(std::string("send: ") + strerror(errno));
        }
        p += w;
        len -= (size_t)w;
    }
    return {};
}

Result<std::vector<uint8_t>> FrameStream::seal_frame(FrameType type, std::string_view plaintext) {
    std::vector<uint8_t> frame(kFrameHeaderSize + plaintext.size() + key_->overhead());
    uint32_t out_len = 0;
    CryptoStatus st = engine_->seal(
        *key_, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(plaintext.data()), plaintext.size()),
        std::span<uint8_t>(frame.data() + kFrameHeaderSize, frame.size() - kFrameHeaderSize), out_len);
    if (st != CryptoStatus::Ok) return make_error(std::string("seal: ") + crypto_status_name(st));
    Status hs = encode_header(type, out_len, std::span<uint8_t>(frame.data(), kFrameHeaderSize));
    if (!hs) return make_error(hs.error());
    frame.resize(kFrameHeaderSize + out_len);
    return frame;
}

Status FrameStream::send(FrameType type, std::string_view plaintext) {
    auto f = seal_frame(type, plaintext);
    if (!f) return make_error(f.error());
    return send_raw(f->data(), f->size());
}

Result<ReceivedFrame> FrameStream::recv(int timeout_ms) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
        ReadResult r = reasm_.next();
        switch (r.status) {
            case ReadStatus::Frame: {
                ReceivedFrame f;
                f.type = r.type;
                f.raw.resize(kFrameHeaderSize + r.payload.size());
                (void)encode_header(r.frame_type(), r.payload.size(), std::span<uint8_t>(f.raw.data(), kFrameHeaderSize));
                std::memcpy(f.raw.data() + kFrameHeaderSize, r.payload.data(), r.payload.size());
                std::vector<uint8_t> work(r.payload.begin(), r.payload.end());
                f.plaintext.resize(work.size());
                OpenItem it;
                it.key = key_.get();
                it.payload = work.data();
                it.payload_len = static_cast<uint32_t>(work.size());
                it.out = f.plaintext.data();
                if (engine_->open(it) == CryptoStatus::Ok) {
                    f.authentic = true;
                    f.plaintext.assign(it.plaintext, it.plaintext + it.plaintext_len);
                } else {
                    f.plaintext.clear();
                }
                return f;
            }
            case ReadStatus::UnknownType: continue;
            case ReadStatus::BadMagic: return make_error("bad magic");
            case ReadStatus::BadVersion: return make_error("bad version");
            case ReadStatus::LengthRefused: return make_error("length refused");
            case ReadStatus::NeedMore: break;
        }
        auto area = reasm_.write_area();
        pollfd p{fd_, POLLIN, 0};
        int rc = ::poll(&p, 1, remaining_ms(deadline));
        if (rc == 0) return make_error("timeout");
        if (rc < 0) return make_error(std::string("poll: ") + strerror(errno));
        ssize_t n = ::recv(fd_, area.data(), area.size(), 0);
        if (n == 0) return make_error("closed by peer");
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) continue;
            return make_error(std::string("closed by peer (") + strerror(errno) + ")");
        }
        reasm_.commit((size_t)n);
    }
}

bool FrameStream::wait_closed(int timeout_ms) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    char buf[65536];
    for (;;) {
        pollfd p{fd_, POLLIN, 0};
        int left = remaining_ms(deadline);
        if (::poll(&p, 1, left) <= 0) return false;
        ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n == 0) return true;
        if (n < 0 && errno != EAGAIN && errno != EINTR) return true;
        if (left == 0) return false;
    }
}

}  // namespace rustun

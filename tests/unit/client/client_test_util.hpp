// Helpers for the client's unit tests: a sealer with a test key, frames to and from bytes,
// loopback UDP sockets, and recording implementations of the client's event interfaces.
#pragma once

#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "clock.hpp"
#include "events.hpp"
#include "frame_sealer.hpp"

namespace rustun::client::test {

// Settable time: both clocks advance together with advance_ms().
class FakeClock final : public Clock {
public:
    uint64_t mono = 1'000'000;  // ms
    uint64_t unix_ns_now = 1'800'000'000'000'000'000ull;
    void advance_ms(uint64_t ms) {
        mono += ms;
        unix_ns_now += ms * 1'000'000;
    }
    uint64_t mono_ms() const override { return mono; }
    uint64_t unix_s() const override { return unix_ns_now / 1'000'000'000; }
    uint64_t unix_us() const override { return unix_ns_now / 1'000; }
    uint64_t unix_ns() const override { return unix_ns_now; }
};

inline constexpr const char* kTestCrypto = "chacha20:unit-test-key";

inline std::vector<uint8_t> seal_frame(FrameSealer& s, FrameType type, const std::string& body) {
    auto f = s.seal(type, reinterpret_cast<const uint8_t*>(body.data()), body.size());
    return {f.begin(), f.end()};
}
inline std::vector<uint8_t> seal_frame(FrameSealer& s, FrameType type, const std::vector<uint8_t>& body) {
    auto f = s.seal(type, body.data(), body.size());
    return {f.begin(), f.end()};
}

struct OpenedFrame {
    FrameType type;
    std::string plain;
    std::vector<uint8_t> payload;  // as received (nonce prefix first under AEAD)
};
inline std::optional<OpenedFrame> open_frame(FrameSealer& s, std::vector<uint8_t> bytes) {
    FrameHeader h;
    if (decode_header(std::span<const uint8_t>(bytes.data(), bytes.size()), h) != HeaderStatus::Ok ||
        h.frame_size() > bytes.size())
        return std::nullopt;
    std::vector<uint8_t> payload(bytes.begin() + kFrameHeaderSize, bytes.begin() + (long)h.frame_size());
    OpenItem it;
    if (!s.open(bytes.data() + kFrameHeaderSize, h.payload_length, it)) return std::nullopt;
    return OpenedFrame{h.frame_type(), std::string(reinterpret_cast<const char*>(it.plaintext), it.plaintext_len),
                       payload};
}

// A UDP socket on 127.0.0.1, any port; closed by the destructor.
struct LoopbackUdp {
    int fd = -1;
    uint16_t port = 0;
    LoopbackUdp() {
        fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
        socklen_t len = sizeof a;
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
        port = ntohs(a.sin_port);
    }
    ~LoopbackUdp() { ::close(fd); }
    // The next datagram within timeout_ms, or nullopt.
    std::optional<std::vector<uint8_t>> recv(int timeout_ms = 500, sockaddr_storage* from = nullptr) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, timeout_ms) <= 0) return std::nullopt;
        std::vector<uint8_t> buf(70000);
        sockaddr_storage ss{};
        socklen_t sl = sizeof ss;
        ssize_t n = ::recvfrom(fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&ss), &sl);
        if (n < 0) return std::nullopt;
        if (from) *from = ss;
        buf.resize((size_t)n);
        return buf;
    }
    void send_to(const std::vector<uint8_t>& data, const sockaddr_storage& to) {
        ::sendto(fd, data.data(), data.size(), 0, reinterpret_cast<const sockaddr*>(&to),
                 to.ss_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6));
    }
};

inline sockaddr_storage loopback_v4(uint16_t port) {
    sockaddr_storage ss{};
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return ss;
}

// A minimal IPv4 packet (20-byte header + payload) from src to dst (host order).
inline std::vector<uint8_t> ipv4_packet(uint32_t src, uint32_t dst, size_t payload = 8) {
    std::vector<uint8_t> p(20 + payload, 0);
    p[0] = 0x45;
    for (int i = 0; i < 4; ++i) {
        p[12 + i] = (uint8_t)(src >> (24 - 8 * i));
        p[16 + i] = (uint8_t)(dst >> (24 - 8 * i));
    }
    return p;
}

struct RecordingTun final : TunWriter {
    std::vector<std::vector<uint8_t>> packets;
    void write_tun(const uint8_t* pkt, size_t len) override { packets.emplace_back(pkt, pkt + len); }
};

struct RecordingGateway final : GatewayEvents {
    std::vector<HandshakeReply> replies;
    std::vector<std::vector<uint8_t>> data;
    std::vector<std::vector<PeerDetail>> details;
    std::vector<PeerUpdate> updates;
    void on_handshake_reply(const HandshakeReply& r, const char*) override { replies.push_back(r); }
    void on_relay_data(const uint8_t* pkt, size_t len) override { data.emplace_back(pkt, pkt + len); }
    void on_peer_details(const std::vector<PeerDetail>& l) override { details.push_back(l); }
    void on_peer_update(const PeerUpdate& u) override { updates.push_back(u); }
};

struct CountingAddressEvents final : AddressEvents {
    int changes = 0;
    void on_public_address_changed() override { ++changes; }
};

}  // namespace rustun::client::test

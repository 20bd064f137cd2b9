// Test harness: an in-process rustun-controlplane on 127.0.0.1 (kernel-chosen port) and clients
// built from lib/ that speak either protocol generation over real loopback TCP.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "config/yaml_loader.hpp"
#include "gateway.hpp"
#include "util/log.hpp"
#include "net/frame_stream.hpp"
#include "proto/dialect.hpp"
#include "proto/messages.hpp"

namespace rustun::cp::test {

// YAML of the standard scenario: cluster "test" (client-a 10.0.1.2 with 192.168.11.0/24,
// client-b 10.0.1.3, client-c 10.0.1.4) and cluster "other" (aes256 key; client-x 10.0.1.2,
// client-y 10.0.1.9), both with chacha20:rustun as default key. `extra` is appended to the
// controlplane section.
inline std::string scenario_yaml(const std::string& socket_path, const std::string& extra = "") {
    return "listen:\n  tcp: 127.0.0.1:0\n"
           "crypto: chacha20:rustun\n"
           "control_socket: " + socket_path + "\n"
           "controlplane:\n  workers: 1\n" +
           (extra.find("handshake_rate_per_source") == std::string::npos ? "  handshake_rate_per_source: 0\n" : "") +
           extra +
           "clusters:\n"
           "  - name: test\n"
           "    clients:\n"
           "      - {identity: client-a, name: Client A, private_ip: 10.0.1.2, mask: 255.255.255.0, gateway: 10.0.1.254, ciders: [192.168.11.0/24], cider_mapping: {192.168.11.0/24: 192.168.10.0/24}}\n"
           "      - {identity: client-b, name: Client B, private_ip: 10.0.1.3, mask: 255.255.255.0, gateway: 10.0.1.254, ciders: [192.168.1.0/24]}\n"
           "      - {identity: client-c, name: Client C, private_ip: 10.0.1.4, mask: 255.255.255.0, gateway: 10.0.1.254, ciders: []}\n"
           "  - name: other\n"
           "    crypto: aes256:other-tenant-key\n"
           "    clients:\n"
           "      - {identity: client-x, name: X, private_ip: 10.0.1.2, mask: 255.255.255.0, gateway: 10.0.1.254, ciders: []}\n"
           "      - {identity: client-y, name: Y, private_ip: 10.0.1.9, mask: 255.255.255.0, gateway: 10.0.1.254, ciders: []}\n";
}

// Whether a thread of this process is named `name` (/proc/self/task/*/comm; util/thread_name.hpp).
inline bool has_thread_named(const std::string& name) {
    for (const auto& t : std::filesystem::directory_iterator("/proc/self/task")) {
        std::ifstream f(t.path() / "comm");
        std::string comm;
        if (std::getline(f, comm) && comm == name) return true;
    }
    return false;
}

inline CipherSpec spec(const char* text) { return CipherSpec::parse(text).value(); }
inline const CipherSpec& test_key() {
    static CipherSpec s = spec("chacha20:rustun");
    return s;
}
inline const CipherSpec& other_key() {
    static CipherSpec s = spec("aes256:other-tenant-key");
    return s;
}

// A gateway running in this process, with its configuration in a temporary directory.
class GatewayFixture : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/rustun-cp-test-XXXXXX";
        dir_ = mkdtemp(tmpl);
        config_path_ = dir_ + "/gateway.yaml";
        socket_path_ = dir_ + "/control.sock";
        set_log_level(LogLevel::Warn);
    }
    void TearDown() override {
        gw_.reset();
        std::string cmd = "rm -rf " + dir_;
        if (std::system(cmd.c_str()) != 0) {
        }
    }

    void write_config(const std::string& yaml) {
        std::ofstream(config_path_) << yaml;
    }
    void start(const std::string& extra = "") {
        write_config(scenario_yaml(socket_path_, extra));
        auto cfg = load_config_file(config_path_);
        ASSERT_TRUE(cfg.ok()) << cfg.error();
        gw_ = std::make_unique<Gateway>(std::move(cfg.value()), config_path_);
        Status st = gw_->start();
        ASSERT_TRUE(st.ok()) << st.error();
    }
    // start() with `workers` worker threads instead of one.
    void start_with_workers(int workers) {
        std::string y = scenario_yaml(socket_path_);
        y.replace(y.find("workers: 1"), 10, "workers: " + std::to_string(workers));
        write_config(y);
        auto cfg = load_config_file(config_path_);
        ASSERT_TRUE(cfg.ok()) << cfg.error();
        gw_ = std::make_unique<Gateway>(std::move(cfg.value()), config_path_);
        Status st = gw_->start();
        ASSERT_TRUE(st.ok()) << st.error();
    }
    std::string address() const { return "127.0.0.1:" + std::to_string(gw_->tcp_port()); }

    std::unique_ptr<FrameStream> connect(const CipherSpec& key = test_key()) {
        auto s = FrameStream::connect(address(), key);
        EXPECT_TRUE(s.ok()) << s.error();
        return s.ok() ? std::move(s.value()) : nullptr;
    }

    // Connects and handshakes in the given dialect; returns the stream and the decoded reply.
    std::unique_ptr<FrameStream> join(const std::string& identity, Dialect d, HandshakeReply* reply_out = nullptr,
                                      const CipherSpec& key = test_key(), const std::string& ipv6 = "") {
        auto s = connect(key);
        if (!s) return nullptr;
        Handshake hs;
        hs.identity = identity;
        hs.ipv6 = ipv6;
        hs.port = 51258;
        std::string body;
        encode_handshake(hs, d == Dialect::Old ? Shape::Old : Shape::New, body);
        EXPECT_TRUE(s->send(FrameType::Handshake, body).ok());
        auto f = s->recv(3000);
        EXPECT_TRUE(f.ok()) << identity << ": " << (f.ok() ? "" : f.error());
        if (!f.ok()) return nullptr;
        EXPECT_EQ(f->frame_type(), FrameType::HandshakeReply);
        EXPECT_TRUE(f->authentic);
        // The reply must parse as the client of that generation parses it.
        auto r = decode_handshake_reply(f->text(), d == Dialect::Old ? ReplyShape::Old : ReplyShape::New);
        EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error()) << " in " << f->text();
        if (reply_out && r.ok()) *reply_out = r.value();
        return s;
    }

    // Sends a new-dialect Handshake for `identity` (no reply awaited).
    static void send_handshake(FrameStream& s, const std::string& identity) {
        Handshake hs;
        hs.identity = identity;
        std::string body;
        encode_handshake(hs, Shape::New, body);
        ASSERT_TRUE(s.send(FrameType::Handshake, body).ok());
    }

    // Sends a KeepAlive in the client's dialect and returns the reply (a KeepAlive).
    KeepAlive keepalive(FrameStream& s, const std::string& identity, Dialect d, const std::string& ipv6 = "",
                        uint16_t port = 51258) {
        KeepAlive ka;
        ka.identity = identity;
        ka.ipv6 = ipv6;
        ka.port = port;
        std::string body;
        encode_keepalive(ka, d == Dialect::Old ? Shape::Old : Shape::New, body);
        EXPECT_TRUE(s.send(FrameType::KeepAlive, body).ok());
        for (int i = 0; i < 10; ++i) {
            auto f = s.recv(3000);
            EXPECT_TRUE(f.ok()) << (f.ok() ? "" : f.error());
            if (!f.ok()) return {};
            if (f->frame_type() != FrameType::KeepAlive) continue;  // e.g. a PeerUpdate first
            auto r = decode_keepalive(f->text(), d == Dialect::Old ? DecodeMode::StrictOld : DecodeMode::StrictNew);
            EXPECT_TRUE(r.ok()) << f->text();
            return r.ok() ? r.value() : KeepAlive{};
        }
        return {};
    }

    uint64_t counter(Counter c) { return gw_->counter(c); }
    // Counters of other threads: wait until `c` reaches `want` (or 3 s pass).
    bool wait_counter(Counter c, uint64_t want, int ms = 3000) {
        for (int i = 0; i < ms / 10; ++i) {
            if (counter(c) >= want) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return counter(c) >= want;
    }
    std::string command(const std::string& line) { return gw_->handle_command(line); }

    std::string dir_, config_path_, socket_path_;
    std::unique_ptr<Gateway> gw_;
};

// An IPv4 ICMP echo request (84 bytes, the vectors' packet) with the given addresses.
inline std::vector<uint8_t> ipv4_packet(const char* src, const char* dst, size_t len = 84) {
    std::vector<uint8_t> p(len);
    p[0] = 0x45;
    p[2] = static_cast<uint8_t>(len >> 8);
    p[3] = static_cast<uint8_t>(len);
    p[8] = 64;
    p[9] = 1;
    auto put = [&](size_t off, const char* a) {
        unsigned b[4];
        sscanf(a, "%u.%u.%u.%u", &b[0], &b[1], &b[2], &b[3]);
        for (int i = 0; i < 4; ++i) p[off + i] = static_cast<uint8_t>(b[i]);
    };
    put(12, src);
    put(16, dst);
    for (size_t i = 20; i < len; ++i) p[i] = static_cast<uint8_t>(i);
    return p;
}

}  // namespace rustun::cp::test

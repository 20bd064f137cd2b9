// A blocking Rustun frame stream over one TCP connection: seal-and-send, receive-and-open.
// For clients, tests and tools (one thread per stream); the gateway's workers have their own
// non-blocking path. Time-outs are in milliseconds; every call is bounded by one.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/cipher_key.hpp"
#include "crypto/crypto_engine.hpp"
#include "proto/frame.hpp"
#include "proto/reassembler.hpp"
#include "util/result.hpp"

namespace rustun {

struct ReceivedFrame {
    uint8_t type = 0;
    std::vector<uint8_t> raw;        // header + payload exactly as received
    std::vector<uint8_t> plaintext;  // opened with the stream's key (empty if open failed)
    bool authentic = false;          // the payload opened (AEAD tag verified)
    FrameType frame_type() const { return static_cast<FrameType>(type); }
    std::string_view text() const {
        return {reinterpret_cast<const char*>(plaintext.data()), plaintext.size()};
    }
};

class FrameStream {
public:
    // Connects to "a.b.c.d:port" or "[v6]:port" within timeout_ms.
    static Result<std::unique_ptr<FrameStream>> connect(std::string_view address, const CipherSpec& cipher,
                                                        int timeout_ms = 5000);
    ~FrameStream();
    FrameStream(const FrameStream&) = delete;
    FrameStream& operator=(const FrameStream&) = delete;

    // Seals `plaintext` with the stream's key into one frame and writes it completely.
    Status send(FrameType type, std::string_view plaintext);
    Status send(FrameType type, const std::vector<uint8_t>& plaintext) {
        return send(type, std::string_view(reinterpret_cast<const char*>(plaintext.data()), plaintext.size()));
    }
    // Writes raw bytes (tests: garbage, hand-made frames, partial frames).
    Status send_raw(const void* data, size_t len);
    // Seals without sending: the complete frame bytes (tests compare relayed bytes with them).
    Result<std::vector<uint8_t>> seal_frame(FrameType type, std::string_view plaintext);

    // Waits up to timeout_ms for the next complete frame. Errors: "timeout", "closed by peer",
    // or a framing error (bad magic/version).
    Result<ReceivedFrame> recv(int timeout_ms = 5000);
    // True if the peer closed the connection (EOF or reset) within timeout_ms; frames that
    // arrive first are discarded.
    bool wait_closed(int timeout_ms = 5000);

    int fd() const { return fd_; }
    const CipherKey& key() const { return *key_; }
    // Stops reading the socket at the kernel level too (SO_RCVBUF left as is): tests of slow
    // clients simply never call recv().
    void set_nonblocking_send(bool on);

private:
    FrameStream() = default;
    int fd_ = -1;
    std::unique_ptr<CipherKey> key_;
    std::unique_ptr<CryptoEngine> engine_;
    Reassembler reasm_;
    bool nonblocking_send_ = false;
};

}  // namespace rustun

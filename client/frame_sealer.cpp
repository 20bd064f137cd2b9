#include "frame_sealer.hpp"

#include <algorithm>

#include "crypto/cipher_spec.hpp"
#include "crypto/key_hint.hpp"

namespace rustun::client {

Status FrameSealer::init(const std::string& text) {
    auto spec = CipherSpec::parse(text);
    if (!spec) return make_error("-c/--crypto: " + spec.error());
    auto key = CipherKey::create(spec.value());
    if (!key) return make_error("-c/--crypto: " + key.error());
    key_ = std::move(key.value());
    hint_tag_ = key_hint_tag(spec.value());
    auto eng = CryptoEngine::create();
    if (!eng) return make_error("crypto engine: " + eng.error());
    engine_ = std::move(eng.value());
    packet_buf_.resize(kMaxFrameSize + 64);
    scratch_.resize(kMaxFrameSize + 64);
    return {};
}

size_t FrameSealer::packet_capacity() const {
    const size_t off = kFrameHeaderSize + prefix_len();
    return std::min<size_t>(packet_buf_.size() - off - overhead(), kMaxPayloadSize - overhead());
}

size_t FrameSealer::seal_into(uint8_t* frame, size_t need, FrameType type, const uint8_t* plain, size_t len,
                              const uint8_t* nonce) {
    SealItem it;
    it.nonce = nonce;
    it.key = key_.get();
    it.plaintext = plain;
    it.plaintext_len = (uint32_t)len;
    it.out = frame + kFrameHeaderSize;
    it.out_capacity = (uint32_t)(need - kFrameHeaderSize);
    if (engine_->seal(it) != CryptoStatus::Ok) return 0;
    if (!encode_header(type, it.out_len, std::span<uint8_t>(frame, kFrameHeaderSize))) return 0;
    return kFrameHeaderSize + it.out_len;
}

std::span<const uint8_t> FrameSealer::seal(FrameType type, const uint8_t* plain, size_t len, const uint8_t* nonce) {
    const size_t need = kFrameHeaderSize + len + overhead();
    if (need > kMaxFrameSize) return {};
    uint8_t* frame = plain == packet_area() ? packet_buf_.data() : scratch_.data();
    const size_t total = seal_into(frame, need, type, plain, len, nonce);
    return {frame, total};
}

bool FrameSealer::hint_nonce(uint8_t nonce[12]) const {
    if (!hint_tag_) return false;
    key_hint_nonce(*hint_tag_, nonce);
    return true;
}

bool FrameSealer::open(uint8_t* payload, size_t len, OpenItem& it) {
    it.key = key_.get();
    it.payload = payload;
    it.payload_len = (uint32_t)len;
    return engine_->open(it) == CryptoStatus::Ok;
}

}  // namespace rustun::client

#include "crypto/cipher_key.hpp"

#include <cstring>
#include <new>
#include <vector>

#include "crypto/imb_mgr.hpp"
#include "crypto/key_arena.hpp"
#include "crypto/secure_wipe.hpp"

namespace rustun {

static_assert(sizeof(gcm_key_data) <= 1024, "gcm_key_data outgrew CipherKey's storage");
static_assert(alignof(gcm_key_data) <= 64);
static_assert(sizeof(CipherKey) % 64 == 0);

namespace {
// Minimum XOR chunk, bytes: long enough for the compiler's vectorised XOR loop to dominate.
constexpr uint32_t kXorMinChunk = 256;
}  // namespace

void* CipherKey::operator new(std::size_t size, std::align_val_t align) {
    if (static_cast<size_t>(align) > key_arena::kSlotAlign) throw std::bad_alloc();
    return key_arena::allocate(size);
}

void CipherKey::operator delete(void* p, std::align_val_t) noexcept { key_arena::deallocate(p); }

Result<std::unique_ptr<CipherKey>> CipherKey::create(std::string_view text) {
    Result<CipherSpec> spec = CipherSpec::parse(text);
    if (!spec) return Error{spec.error()};
    return create(*spec);
}

Result<std::unique_ptr<CipherKey>> CipherKey::create(const CipherSpec& spec) {
    auto key = std::make_unique<CipherKey>(Token{});
    auto* gk = new (key->gcm_storage_) gcm_key_data{};  // starts the object's lifetime, zeroed
    key->gcm_ = gk;
    key->spec_ = spec;
    key->method_ = spec.method;
    std::vector<uint8_t> material = spec.derived_key();

    switch (spec.method) {
        case CipherMethod::Plain:
            break;
        case CipherMethod::Xor: {
            if (material.empty()) return make_error("cipher 'xor:' needs a non-empty key");
            const size_t klen = material.size();
            const size_t reps = (kXorMinChunk + klen - 1) / klen;
            if (klen * reps > UINT32_MAX) return make_error("xor key too long");
            key->xor_pad_len_ = static_cast<uint32_t>(klen * reps);
            key->xor_pad_ = std::make_unique<uint8_t[]>(key->xor_pad_len_);
            for (size_t r = 0; r < reps; ++r) {
                std::memcpy(key->xor_pad_.get() + r * klen, material.data(), klen);
            }
            break;
        }
        case CipherMethod::ChaCha20Poly1305:
            std::memcpy(key->chacha_key_, material.data(), sizeof(key->chacha_key_));
            key->overhead_ = kAeadOverhead;
            key->prefix_len_ = kAeadNonceLen;
            break;
        case CipherMethod::Aes256Gcm: {
            const IMB_MGR* mgr = imb::setup_mgr();
            if (mgr == nullptr) return make_error("IPsec-MB initialisation failed");
            // Round keys + GHASH powers of H, for the architecture the manager selected.
            IMB_AES256_GCM_PRE(mgr, material.data(), gk);
            if (ghash_supported()) {
                ghash_key_init(key->ghash_, gk->expanded_keys);
                key->has_ghash_ = true;
            }
            key->overhead_ = kAeadOverhead;
            key->prefix_len_ = kAeadNonceLen;
            break;
        }
    }
    secure_wipe(material.data(), material.size());
    return key;
}

size_t CipherKey::hot_bytes() const {
    if (method_ != CipherMethod::Aes256Gcm) return 64;
    return static_cast<size_t>(reinterpret_cast<const unsigned char*>(&ghash_ + 1) - reinterpret_cast<const unsigned char*>(this));
}

CipherKey::~CipherKey() {
    secure_wipe(chacha_key_, sizeof(chacha_key_));
    secure_wipe(gcm_storage_, sizeof(gcm_storage_));
    secure_wipe(&ghash_, sizeof(ghash_));
    if (xor_pad_) secure_wipe(xor_pad_.get(), xor_pad_len_);
}

}  // namespace rustun

// CipherKey storage (lib/crypto/key_arena.hpp): keys past the small first block sit in 2 MiB
// blocks advised as transparent huge pages; freed slots are reused; keys work from there.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "crypto/cipher_key.hpp"
#include "crypto/crypto_engine.hpp"
#include "crypto/crypto_item.hpp"
#include "crypto/key_arena.hpp"

namespace rustun {
namespace {

// The VmFlags of the mapping that holds `p` (/proc/self/smaps), "" if none does.
std::string vm_flags_of(const void* p) {
    const auto addr = reinterpret_cast<uintptr_t>(p);
    std::ifstream smaps("/proc/self/smaps");
    std::string line;
    bool inside = false;
    while (std::getline(smaps, line)) {
        unsigned long lo = 0, hi = 0;
        char dash = 0;
        std::istringstream head(line);
        if (head >> std::hex >> lo >> dash >> hi && dash == '-' && line.find(':') > line.find(' ')) {
            inside = addr >= lo && addr < hi;
            continue;
        }
        if (inside && line.rfind("VmFlags:", 0) == 0) return line;
    }
    return "";
}

std::unique_ptr<CipherKey> make_key(int i) {
    auto k = CipherKey::create("aes256:arena-" + std::to_string(i));
    EXPECT_TRUE(k.ok()) << k.error();
    return k.ok() ? std::move(k).value() : nullptr;
}

TEST(KeyArena, KeysBeyondTheFirstBlockAreInHugePageBlocks) {
    const size_t per_first_block = key_arena::kFirstBlockBytes / sizeof(CipherKey);
    std::vector<std::unique_ptr<CipherKey>> keys;
    for (size_t i = 0; i < per_first_block + 8; ++i) keys.push_back(make_key(static_cast<int>(i)));
    const key_arena::Stats st = key_arena::stats();
    EXPECT_GE(st.huge_blocks, 1u);
    EXPECT_GE(st.slots_in_use, keys.size());
    const CipherKey* last = keys.back().get();
    EXPECT_EQ(reinterpret_cast<uintptr_t>(last) % 64, 0u);
    // madvise(MADV_HUGEPAGE) shows as "hg" in the mapping's flags, whatever the THP mode.
    const std::string flags = vm_flags_of(last);
    ASSERT_FALSE(flags.empty()) << "no mapping holds the key";
    EXPECT_NE(flags.find(" hg"), std::string::npos) << flags;
}

TEST(KeyArena, FreedSlotsAreReusedAndKeysWork) {
    auto a = make_key(1);
    const void* where = a.get();
    const size_t in_use = key_arena::stats().slots_in_use;
    a.reset();
    EXPECT_EQ(key_arena::stats().slots_in_use, in_use - 1);
    auto b = make_key(2);
    EXPECT_EQ(static_cast<const void*>(b.get()), where);  // the slot just freed
    EXPECT_EQ(key_arena::stats().slots_in_use, in_use);

    // A key in a reused slot seals and opens as any other.
    auto engine = CryptoEngine::create();
    ASSERT_TRUE(engine.ok()) << engine.error();
    const std::vector<uint8_t> plain = {0x45, 0, 0, 20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    std::vector<uint8_t> sealed(plain.size() + kAeadOverhead);
    std::vector<uint8_t> opened(plain.size());
    SealItem s{};
    s.key = b.get();
    s.plaintext = plain.data();
    s.plaintext_len = static_cast<uint32_t>(plain.size());
    s.out = sealed.data();
    s.out_capacity = static_cast<uint32_t>(sealed.size());
    ASSERT_EQ((*engine)->seal(s), CryptoStatus::Ok);
    OpenItem o{};
    o.key = b.get();
    o.payload = sealed.data();
    o.payload_len = s.out_len;
    o.out = opened.data();
    ASSERT_EQ((*engine)->open(o), CryptoStatus::Ok);
    EXPECT_EQ(std::vector<uint8_t>(o.plaintext, o.plaintext + o.plaintext_len), plain);
}

}  // namespace
}  // namespace rustun

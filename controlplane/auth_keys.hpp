// The keys a frame of an unknown sender is tried with (trial_authenticate), indexed once per
// membership generation so that finding a hinted key costs the same whatever the number of
// clusters (docs/controlplane.md, "Authentication cost"):
//   * keys: the distinct cluster keys in trial order (AEADs first, their tag decides; then XOR,
//     then plain, which "decrypt" anything) — the full trial, the fallback of every hint;
//   * cluster_key: cluster -> its key's index in `keys` (the hint of a known client);
//   * by_tag: (key-hint tag, index) sorted by tag (the hint our clients put in their nonces,
//     crypto/key_hint.hpp), AEAD keys only;
//   * generation: unique per build in this process, so that hints learnt under an older
//     generation (AuthHints) are never read as indices of a newer one.
// Immutable after build: any thread holding the Membership reads it without a lock.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "crypto/cipher_key.hpp"

namespace rustun::cp {

struct AuthKeys {
    std::vector<const CipherKey*> keys;
    std::vector<uint32_t> cluster_key;
    std::vector<std::pair<uint32_t, uint32_t>> by_tag;
    uint64_t generation = 0;

    // Builds the index over `trial_keys` (owned by the Membership) and the clusters' keys.
    void build(const std::vector<std::shared_ptr<const CipherKey>>& trial_keys,
               const std::vector<const CipherKey*>& cluster_keys);

    // Calls f(index) for every key whose hint tag is `tag` (usually none or one).
    template <class F>
    void for_tag(uint32_t tag, F&& f) const {
        auto it = std::lower_bound(by_tag.begin(), by_tag.end(), std::make_pair(tag, uint32_t{0}));
        for (; it != by_tag.end() && it->first == tag; ++it) f(it->second);
    }
};

}  // namespace rustun::cp

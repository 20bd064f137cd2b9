#include "auth_keys.hpp"

#include <atomic>
#include <unordered_map>

#include "crypto/key_hint.hpp"

namespace rustun::cp {

namespace {
std::atomic<uint64_t> g_generation{0};
}  // namespace

void AuthKeys::build(const std::vector<std::shared_ptr<const CipherKey>>& trial_keys,
                     const std::vector<const CipherKey*>& cluster_keys) {
    generation = g_generation.fetch_add(1, std::memory_order_relaxed) + 1;
    keys.clear();
    by_tag.clear();
    for (const auto& k : trial_keys) keys.push_back(k.get());
    for (uint32_t i = 0; i < keys.size(); ++i)
        if (auto tag = key_hint_tag(keys[i]->spec())) by_tag.emplace_back(*tag, i);
    std::sort(by_tag.begin(), by_tag.end());
    std::unordered_map<const CipherKey*, uint32_t> index;
    for (uint32_t i = 0; i < keys.size(); ++i) index.emplace(keys[i], i);
    cluster_key.assign(cluster_keys.size(), 0);
    for (size_t c = 0; c < cluster_keys.size(); ++c) cluster_key[c] = index.at(cluster_keys[c]);
}

}  // namespace rustun::cp

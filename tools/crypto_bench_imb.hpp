// Raw IPsec-MB interface comparison for rustun-crypto-bench --interfaces: the evidence behind
// CryptoEngine's choice of interface per algorithm (docs/performance.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rustun::bench {

struct InterfaceResult {
    std::string cipher;     // "aes256" / "chacha20"
    std::string interface;  // "direct", "burst-nocheck", "burst-checked", "job-nocheck"
    uint32_t size = 0;
    double cycles_per_packet = 0;  // TSC cycles, decrypt + tag computation, fastest run
};

// Decrypts `batch` valid payloads per round for each size through each interface.
// Returns an empty vector if IPsec-MB cannot be initialised or a job fails.
std::vector<InterfaceResult> compare_interfaces(const std::vector<uint32_t>& sizes,
                                                uint32_t batch, uint64_t packets_per_run,
                                                int runs);

}  // namespace rustun::bench

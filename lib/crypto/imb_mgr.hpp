// Ownership of IPsec-MB multi-buffer managers (IMB_MGR). Internal to lib/crypto: this is the
// only header that includes <intel-ipsec-mb.h>, so that its legacy macros (ECB, ENCRYPT, ...)
// never leak into the rest of the code base.
#pragma once

#include <intel-ipsec-mb.h>

#include <memory>

#include "util/result.hpp"

namespace rustun::imb {

struct MgrDeleter {
    void operator()(IMB_MGR* m) const noexcept;
};
using MgrPtr = std::unique_ptr<IMB_MGR, MgrDeleter>;

// alloc_mb_mgr + init_mb_mgr_auto (best architecture for this CPU). About 200 KB; created once
// per thread, never per packet.
Result<MgrPtr> make_mgr();

// A process-wide manager used only for its stateless function pointers (key expansion, GCM key
// precomputation) at configuration time. Thread-safe: initialised once, never mutated after.
// Returns nullptr if the library cannot be initialised.
const IMB_MGR* setup_mgr();

// Name of the code path init_mb_mgr_auto chose ("avx512", "avx2", ...).
const char* arch_name(const IMB_MGR& m);

}  // namespace rustun::imb

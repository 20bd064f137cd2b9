#include "crypto/imb_mgr.hpp"

namespace rustun::imb {

void MgrDeleter::operator()(IMB_MGR* m) const noexcept { free_mb_mgr(m); }

Result<MgrPtr> make_mgr() {
    MgrPtr m(alloc_mb_mgr(0));
    if (!m) return make_error("IPsec-MB: alloc_mb_mgr failed");
    IMB_ARCH arch = IMB_ARCH_NONE;
    init_mb_mgr_auto(m.get(), &arch);
    if (arch == IMB_ARCH_NONE || imb_get_errno(m.get()) != 0) {
        return make_error(std::string("IPsec-MB: init_mb_mgr_auto failed: ") +
                          imb_get_strerror(imb_get_errno(m.get())));
    }
    return m;
}

const IMB_MGR* setup_mgr() {
    static const MgrPtr mgr = [] {
        Result<MgrPtr> r = make_mgr();
        return r.ok() ? std::move(r).value() : MgrPtr{};
    }();
    return mgr.get();
}

const char* arch_name(const IMB_MGR& m) {
    switch (m.used_arch) {
        case IMB_ARCH_NOAESNI: return "noaesni";
        case IMB_ARCH_SSE: return "sse";
        case IMB_ARCH_AVX: return "avx";
        case IMB_ARCH_AVX2: return "avx2";
        case IMB_ARCH_AVX512: return "avx512";
        default: return "unknown";
    }
}

}  // namespace rustun::imb

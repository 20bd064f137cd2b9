#include "counters.hpp"

namespace rustun::cp {

static const CounterInfo kInfo[] = {
#define X(name, help) {#name, help},
    RUSTUN_CP_COUNTERS(X)
#undef X
};

const CounterInfo& counter_info(Counter c) { return kInfo[static_cast<size_t>(c)]; }

}  // namespace rustun::cp

// Submitting a burst of filled IPsec-MB jobs and draining it (internal to lib/crypto).
#pragma once

#include <cstdint>

#include "crypto/imb_mgr.hpp"

namespace rustun::imb {

// Submits jobs[0..n) (already filled, from IMB_GET_NEXT_BURST) and calls done(job) for each job
// IPsec-MB returns, flushing until all n came back; the caller checks job->status. Returns false
// if the checked submit (validate) refused the burst: then no job ran and done() was not called.
// jobs[] is overwritten with the returned jobs. A job never returned (impossible with an empty
// queue before the call) gets no done() call: callers must treat "no done()" as a failure.
template <typename Done>
bool run_burst(IMB_MGR* m, bool validate, IMB_JOB** jobs, uint32_t n, Done&& done) {
    uint32_t got = validate ? IMB_SUBMIT_BURST(m, n, jobs) : IMB_SUBMIT_BURST_NOCHECK(m, n, jobs);
    if (got == 0 && validate && imb_get_errno(m) != 0) return false;
    uint32_t finished = 0;
    for (;;) {
        for (uint32_t i = 0; i < got; ++i) done(jobs[i]);
        finished += got;
        if (finished >= n) return true;
        got = IMB_FLUSH_BURST(m, n - finished, jobs);
        if (got == 0) return true;
    }
}

}  // namespace rustun::imb

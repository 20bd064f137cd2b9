#include "etcd/etcd_state.hpp"

#include <grpc/support/log.h>

#include <algorithm>
#include <fstream>
#include <mutex>
#include <sstream>

#include "util/log.hpp"

namespace rustun::etcd {

namespace {

Result<std::string> read_pem(const std::string& path, const char* what) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Error{"etcd TLS " + std::string(what) + " \"" + path + "\": cannot be read"};
    std::ostringstream s;
    s << in.rdbuf();
    if (s.str().find("-----BEGIN") == std::string::npos)
        return Error{"etcd TLS " + std::string(what) + " \"" + path + "\": not a PEM file"};
    return s.str();
}

const char* code_name(grpc::StatusCode c) {
    switch (c) {
        case grpc::StatusCode::OK: return "OK";
        case grpc::StatusCode::CANCELLED: return "CANCELLED";
        case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
        case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
        case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
        case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
        case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
        case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
        case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
        case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
        case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
        case grpc::StatusCode::ABORTED: return "ABORTED";
        case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
        case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
        case grpc::StatusCode::INTERNAL: return "INTERNAL";
        case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
        case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
        default: return "UNKNOWN_CODE";
    }
}

// Reconnect quickly after an etcd restart (gRPC's default back-off grows to 120 s) and notice a
// dead peer on an idle connection (keep-alive pings; etcd permits them every 5 s by default).
grpc::ChannelArguments channel_arguments() {
    grpc::ChannelArguments a;
    a.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    a.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
    a.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    a.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10'000);
    a.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5'000);
    a.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    a.SetInt(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, 64 << 20);  // a large get_prefix answer
    return a;
}

// gRPC's own log lines (connection attempts, TLS alerts) go to the project's logger at debug
// level: what matters to an operator is already in the call's error and the counters.
void log_grpc_line(gpr_log_func_args* args) {
    LOG_DEBUG("grpc %s:%d: %s", args->file, args->line, args->message);
}

}  // namespace

Result<std::unique_ptr<ClientState>> ClientState::create(Options options) {
    static std::once_flag grpc_log_once;
    std::call_once(grpc_log_once, [] { gpr_set_log_function(log_grpc_line); });
    if (options.endpoints.empty()) return Error{"etcd: no endpoint given"};
    auto st = std::make_unique<ClientState>();
    for (const std::string& url : options.endpoints) {
        auto ep = parse_endpoint(url);
        if (!ep.ok()) return Error{ep.error()};
        if (!st->endpoints.empty() && ep->tls != st->endpoints.front().tls)
            return Error{"etcd endpoints mix http:// and https://: \"" + url + "\""};
        st->endpoints.push_back(std::move(ep).value());
    }
    const bool tls = st->endpoints.front().tls;
    const bool tls_files = !options.ca_file.empty() || !options.cert_file.empty() || !options.key_file.empty();
    if (tls_files && !tls) return Error{"etcd TLS files are set but the endpoints are http://, not https://"};
    if (options.cert_file.empty() != options.key_file.empty())
        return Error{"etcd TLS: a client certificate needs its key and a key its certificate"};
    std::shared_ptr<grpc::ChannelCredentials> creds = grpc::InsecureChannelCredentials();
    if (tls) {
        grpc::SslCredentialsOptions ssl;
        if (!options.ca_file.empty()) {
            auto ca = read_pem(options.ca_file, "ca");
            if (!ca.ok()) return Error{ca.error()};
            ssl.pem_root_certs = *ca;
        }
        if (!options.cert_file.empty()) {
            auto cert = read_pem(options.cert_file, "cert");
            if (!cert.ok()) return Error{cert.error()};
            auto key = read_pem(options.key_file, "key");
            if (!key.ok()) return Error{key.error()};
            ssl.pem_cert_chain = *cert;
            ssl.pem_private_key = *key;
        }
        creds = grpc::SslCredentials(ssl);
    }
    for (const Endpoint& ep : st->endpoints) {
        auto ch = grpc::CreateCustomChannel(ep.target, creds, channel_arguments());
        st->kv.push_back(etcdserverpb::KV::NewStub(ch));
        st->lease.push_back(etcdserverpb::Lease::NewStub(ch));
        st->watch.push_back(etcdserverpb::Watch::NewStub(ch));
        st->channels.push_back(std::move(ch));
    }
    st->options = std::move(options);
    return st;
}

Result<size_t> ClientState::connected_endpoint(const std::atomic<bool>* cancel) {
    const size_t n = endpoints.size();
    auto cancelled = [&] { return cancel != nullptr && cancel->load(std::memory_order_acquire); };
    // Waits for a state change of channel i until `deadline`, in slices that look at `cancel`.
    auto wait_change = [&](size_t i, grpc_connectivity_state s, std::chrono::system_clock::time_point deadline) {
        for (;;) {
            const auto slice = std::min(deadline, std::chrono::system_clock::now() + std::chrono::milliseconds(100));
            if (channels[i]->WaitForStateChange(s, slice)) return true;
            if (slice >= deadline || cancelled()) return false;
        }
    };
    const size_t start = current.load(std::memory_order_acquire) % n;
    auto found = [&](size_t i) {
        if (i != start) {
            current.store(i, std::memory_order_release);
            bump(counters.reconnects);
        }
        return i;
    };
    std::string down;
    for (size_t k = 0; k < n; ++k) {
        const size_t i = (start + k) % n;
        const auto deadline = std::chrono::system_clock::now() + options.dial_timeout;
        grpc_connectivity_state s = channels[i]->GetState(/*try_to_connect=*/true);
        while (s == GRPC_CHANNEL_IDLE || s == GRPC_CHANNEL_CONNECTING) {
            if (!wait_change(i, s, deadline)) break;
            s = channels[i]->GetState(true);
        }
        if (s == GRPC_CHANNEL_READY) return found(i);
        down += (down.empty() ? "" : ", ") + endpoints[i].target;
        if (cancelled()) return Error{"cancelled"};
    }
    // Every endpoint is down or backing off: give the current one a full dial_timeout (an etcd
    // that was just restarted is reached at the channel's next attempt).
    const auto deadline = std::chrono::system_clock::now() + options.dial_timeout;
    for (grpc_connectivity_state s = channels[start]->GetState(true); s != GRPC_CHANNEL_READY;
         s = channels[start]->GetState(true)) {
        if (!wait_change(start, s, deadline)) return Error{"no etcd endpoint reachable (" + down + ")"};
    }
    return found(start);
}

void ClientState::leave(size_t failed) {
    size_t expected = failed;
    if (current.compare_exchange_strong(expected, (failed + 1) % endpoints.size(),
                                        std::memory_order_acq_rel))
        bump(counters.reconnects);
}

std::string ClientState::describe(size_t i, std::string_view what, const grpc::Status& s) const {
    return "etcd " + endpoints[i].target + ": " + std::string(what) + ": " + code_name(s.error_code()) +
           ": " + s.error_message();
}

}  // namespace rustun::etcd

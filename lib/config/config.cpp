#include "config/config.hpp"

namespace rustun {

const char* log_level_name(LogLevel level) {
    switch (level) {
        case LogLevel::Trace: return "trace";
        case LogLevel::Debug: return "debug";
        case LogLevel::Info: return "info";
        case LogLevel::Warn: return "warn";
        case LogLevel::Error: return "error";
        case LogLevel::Off: return "off";
    }
    return "?";
}

const char* log_format_name(LogFormat format) {
    switch (format) {
        case LogFormat::Text: return "text";
        case LogFormat::Journald: return "journal";
        case LogFormat::Json: return "json";
    }
    return "?";
}

bool ClientConfig::same_settings(const ClientConfig& o) const {
    return identity == o.identity && name == o.name && private_ip == o.private_ip &&
           mask == o.mask && gateway == o.gateway && ciders == o.ciders &&
           cider_mapping == o.cider_mapping;
}

const ClusterConfig* GatewayConfig::find_cluster(std::string_view name) const {
    for (const auto& c : clusters)
        if (c.name == name) return &c;
    return nullptr;
}

size_t GatewayConfig::total_clients() const {
    size_t n = 0;
    for (const auto& c : clusters) n += c.clients.size();
    return n;
}

}  // namespace rustun

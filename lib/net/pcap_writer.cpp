#include "pcap_writer.hpp"

#include <pcap/pcap.h>

#include <cstdio>

namespace rustun {

PcapWriter::~PcapWriter() { (void)close(); }

Status PcapWriter::open(const std::string& path) {
    (void)close();
    dead_ = pcap_open_dead(DLT_EN10MB, 65535);
    if (!dead_) return make_error(path + ": pcap_open_dead failed");
    dumper_ = pcap_dump_open(dead_, path.c_str());
    if (!dumper_) {
        std::string err = path + ": " + pcap_geterr(dead_);
        pcap_close(dead_);
        dead_ = nullptr;
        return make_error(std::move(err));
    }
    path_ = path;
    return {};
}

void PcapWriter::write(const uint8_t* data, uint32_t len, uint64_t ts_us) {
    pcap_pkthdr h{};
    h.ts.tv_sec = static_cast<time_t>(ts_us / 1'000'000);
    h.ts.tv_usec = static_cast<suseconds_t>(ts_us % 1'000'000);
    h.caplen = h.len = len;
    pcap_dump(reinterpret_cast<u_char*>(dumper_), &h, data);
}

Status PcapWriter::close() {
    if (!dumper_) return {};
    const bool ok = pcap_dump_flush(dumper_) == 0 && !std::ferror(pcap_dump_file(dumper_));
    pcap_dump_close(dumper_);
    pcap_close(dead_);
    dumper_ = nullptr;
    dead_ = nullptr;
    if (!ok) return make_error(path_ + ": write failed");
    return {};
}

}  // namespace rustun

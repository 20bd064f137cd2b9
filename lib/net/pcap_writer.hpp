// Writes classic pcap files (microsecond timestamps, LINKTYPE_ETHERNET, snaplen 65535) through
// libpcap's dumper, for the generators (rustun-pcapgen, the smoke driver) and the functional
// runner. Built as its own library (`pcap_writer_dep`) so that only its users link libpcap.
#pragma once

#include <cstdint>
#include <string>

#include "util/result.hpp"

struct pcap;
struct pcap_dumper;

namespace rustun {

class PcapWriter {
public:
    PcapWriter() = default;
    PcapWriter(const PcapWriter&) = delete;
    PcapWriter& operator=(const PcapWriter&) = delete;
    ~PcapWriter();  // close()s, ignoring a write error

    // Creates (truncates) `path` and writes the file header. The error names the path.
    Status open(const std::string& path);
    bool is_open() const { return dumper_ != nullptr; }
    // Appends one record of `len` bytes (caplen == len) stamped `ts_us` (Unix microseconds).
    // Precondition: is_open(). Write errors surface in close().
    void write(const uint8_t* data, uint32_t len, uint64_t ts_us);
    // Flushes and closes; an error if any write failed. No-op (ok) when not open.
    Status close();

private:
    pcap* dead_ = nullptr;
    pcap_dumper* dumper_ = nullptr;
    std::string path_;
};

}  // namespace rustun

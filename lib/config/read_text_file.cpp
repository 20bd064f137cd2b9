#include "config/read_text_file.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "config/source_ref.hpp"

namespace rustun {

Result<std::string> read_text_file(const std::string& path) {
    auto fail = [&](const std::string& why) {
        return make_error("cannot read " + quote_for_error(path) + ": " + why);
    };
    // Refuse FIFOs, devices and directories up front: opening a FIFO would block, and a device
    // such as /dev/zero never ends.
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return fail(std::strerror(errno));
    if (!S_ISREG(st.st_mode)) return fail("not a regular file");
    errno = 0;
    std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
    if (!f) return fail(std::strerror(errno));
    std::string text;
    // One allocation for a file that does not grow while it is read (a 1M-client file is ~170 MB).
    if (st.st_size > 0 && static_cast<uint64_t>(st.st_size) <= kMaxConfigFileBytes)
        text.reserve(static_cast<size_t>(st.st_size));
    char buf[65536];
    for (;;) {
        size_t n = std::fread(buf, 1, sizeof buf, f.get());
        if (n > 0) {
            if (text.size() + n > kMaxConfigFileBytes)
                return fail("larger than " + std::to_string(kMaxConfigFileBytes) + " bytes");
            text.append(buf, n);
        }
        if (n < sizeof buf) {
            if (std::ferror(f.get())) return fail(std::strerror(errno ? errno : EIO));
            break;
        }
    }
    return text;
}

}  // namespace rustun

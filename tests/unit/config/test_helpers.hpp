// Helpers shared by the config-* and routing-* tests.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace rustun::test {

// A fresh directory under $TMPDIR (or /tmp), removed with its contents at scope exit.
class TempDir {
public:
    TempDir() {
        const char* base = getenv("TMPDIR");
        std::string tmpl = std::string(base && *base ? base : "/tmp") + "/rustun-config-XXXXXX";
        if (mkdtemp(tmpl.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
        path_ = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::string& path() const { return path_; }
    // Writes `text` to path()/name and returns the full path.
    std::string write(const std::string& name, std::string_view text) const {
        std::string p = path_ + "/" + name;
        std::ofstream(p, std::ios::binary) << text;
        return p;
    }

private:
    std::string path_;
};

// 1-based line of the first occurrence of `needle` in `text` (0 if absent), so that tests state
// "the error is on the line that says X" rather than a hand-counted number.
inline int line_of(std::string_view text, std::string_view needle) {
    size_t pos = text.find(needle);
    if (pos == std::string_view::npos) return 0;
    int line = 1;
    for (size_t i = 0; i < pos; ++i) line += text[i] == '\n';
    return line;
}

inline std::string replace_once(std::string text, std::string_view from, std::string_view to) {
    size_t pos = text.find(from);
    EXPECT_NE(pos, std::string::npos) << "test bug: " << from << " not in text";
    if (pos != std::string::npos) text.replace(pos, from.size(), to);
    return text;
}

}  // namespace rustun::test

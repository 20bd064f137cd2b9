#include "config/routes_json.hpp"

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <array>
#include <exception>
#include <optional>
#include <utility>

#include "config/read_text_file.hpp"

namespace rustun {

namespace {

// Converts byte offsets into 1-based line and column (column in UTF-8 code points). Offsets must
// be requested in non-decreasing order: the cursor only moves forward, so a whole file costs O(n).
class PositionCursor {
public:
    explicit PositionCursor(std::string_view text) : text_(text) {}

    std::pair<uint32_t, uint32_t> at(size_t offset) {
        if (offset > text_.size()) offset = text_.size();
        for (; off_ < offset; ++off_) {
            unsigned char b = static_cast<unsigned char>(text_[off_]);
            if (b == '\n') {
                ++line_;
                col_ = 1;
            } else if ((b & 0xC0) != 0x80) {
                ++col_;
            }
        }
        return {line_, col_};
    }

private:
    std::string_view text_;
    size_t off_ = 0;
    uint32_t line_ = 1;
    uint32_t col_ = 1;
};

enum class Member : uint8_t {
    Name,
    Cluster,
    Identity,
    PrivateIp,
    Mask,
    Gateway,
    Ciders,
    CiderMapping,
    Unknown
};
constexpr size_t kStringMembers = 6;  // Name .. Gateway, stored in PendingEntry::strings
constexpr std::array<std::string_view, 8> kMemberNames = {
    "name", "cluster", "identity", "private_ip", "mask", "gateway", "ciders", "cider_mapping"};

Member member_of(std::string_view key) {
    for (size_t i = 0; i < kMemberNames.size(); ++i)
        if (kMemberNames[i] == key) return static_cast<Member>(i);
    return Member::Unknown;
}

struct Located {
    std::string text;
    SourceRef at;
};

// The members of one array element as read, before validation.
struct PendingEntry {
    SourceRef start;  // the object's '{', path "[i]"
    std::array<std::optional<Located>, kStringMembers> strings;
    bool has_ciders = false;
    bool has_mapping = false;
    std::vector<Located> ciders;
    std::vector<std::pair<Located, Located>> mapping;  // (key, value)
};

// SAX handler: a state machine over the expected shape [ {member: value, ...}, ... ]. It stops
// the parse (returns false) at the first problem, with `error` set. Nesting is bounded: entries
// are at depth 2, ciders/cider_mapping at depth 3, ignored values at most kMaxIgnoredNesting
// deeper, so the recursion-free iterative reader and this handler use bounded memory per level.
class RoutesHandler {
public:
    RoutesHandler(std::string_view text, std::string_view file, const rapidjson::MemoryStream& is)
        : text_(text), file_(file), is_(is), cursor_(text) {}

    std::optional<Error> error;
    std::vector<RoutesJsonEntry> entries;

    bool Null() { return scalar(false, {}); }
    bool Bool(bool) { return scalar(false, {}); }
    bool Int(int) { return scalar(false, {}); }
    bool Uint(unsigned) { return scalar(false, {}); }
    bool Int64(int64_t) { return scalar(false, {}); }
    bool Uint64(uint64_t) { return scalar(false, {}); }
    bool Double(double) { return scalar(false, {}); }
    bool RawNumber(const char*, rapidjson::SizeType, bool) { return scalar(false, {}); }
    bool String(const char* s, rapidjson::SizeType n, bool) { return scalar(true, {s, n}); }
    bool StartObject() { return open(true); }
    bool StartArray() { return open(false); }
    bool Key(const char* s, rapidjson::SizeType n, bool) { return key({s, n}); }
    bool EndObject(rapidjson::SizeType) { return close(); }
    bool EndArray(rapidjson::SizeType) { return close(); }

private:
    enum class Stage : uint8_t {
        BeforeRoot,
        InEntries,
        InEntry,
        InCiders,
        InMapping,
        Skipping,
        Done
    };

    // Location of the token the reader just reported. Between two tokens there are only blanks,
    // ',' and ':', so the token starts at the first other character after the previous token.
    // Scalars and keys are reported after they were consumed (the token ends at Tell()); the
    // iterative reader reports brackets before consuming them, the recursive one after, so a
    // bracket's end is taken as its start + 1, which holds in both modes.
    SourceRef here(std::string path, bool bracket = false) {
        size_t start = last_end_;
        while (start < text_.size()) {
            char c = text_[start];
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != ',' && c != ':') break;
            ++start;
        }
        last_end_ = bracket ? start + 1 : is_.Tell();
        auto [line, col] = cursor_.at(start);
        return SourceRef{std::string(file_), line, col, std::move(path)};
    }
    SourceRef here_bracket(std::string path) { return here(std::move(path), true); }

    std::string entry_path() const {
        std::string p(1, '[');  // not "[" + std::string: GCC 12 -O3 false -Wrestrict
        return p.append(std::to_string(index_)).append(1, ']');
    }
    std::string member_path() const {
        return entry_path() + "." + std::string(kMemberNames[static_cast<size_t>(member_)]);
    }
    std::string cider_path() const {
        return member_path() + "[" + std::to_string(pending_.ciders.size()) + "]";
    }
    std::string mapping_path() const {
        return member_path() + "[" + quote_for_error(mapping_key_.text) + "]";
    }

    bool fail(Error e) {
        error = std::move(e);
        return false;
    }
    bool fail_at(const SourceRef& at, std::string_view what) { return fail(error_at(at, what)); }

    bool wrong_type_for_member(const SourceRef& at) {
        if (member_ == Member::Ciders) return fail_at(at, "expected an array of CIDR strings");
        if (member_ == Member::CiderMapping)
            return fail_at(at, "expected an object mapping CIDR strings to CIDR strings");
        return fail_at(at, "expected a string");
    }

    bool scalar(bool is_string, std::string_view s) {
        switch (stage_) {
            case Stage::BeforeRoot:
                return fail_at(here(""), "expected a JSON array of client objects");
            case Stage::InEntries:
                return fail_at(here(entry_path()), "expected an object (one client)");
            case Stage::InEntry: {
                if (member_ == Member::Unknown) {
                    here("");
                    return true;
                }
                SourceRef at = here(member_path());
                if (!is_string || static_cast<size_t>(member_) >= kStringMembers)
                    return wrong_type_for_member(at);
                pending_.strings[static_cast<size_t>(member_)] = Located{std::string(s), at};
                return true;
            }
            case Stage::InCiders: {
                SourceRef at = here(cider_path());
                if (!is_string) return fail_at(at, "expected a CIDR string");
                pending_.ciders.push_back(Located{std::string(s), std::move(at)});
                return true;
            }
            case Stage::InMapping: {
                SourceRef at = here(mapping_path());
                if (!is_string) return fail_at(at, "expected a CIDR string");
                pending_.mapping.emplace_back(mapping_key_, Located{std::string(s), at});
                return true;
            }
            case Stage::Skipping: here(""); return true;
            case Stage::Done: break;
        }
        return fail_at(here(""), "unexpected value after the array");
    }

    bool open(bool object) {
        switch (stage_) {
            case Stage::BeforeRoot:
                if (object)
                    return fail_at(here_bracket(""), "expected a JSON array of client objects");
                here_bracket("");
                stage_ = Stage::InEntries;
                return true;
            case Stage::InEntries:
                if (!object)
                    return fail_at(here_bracket(entry_path()), "expected an object (one client)");
                pending_ = PendingEntry{};
                pending_.start = here_bracket(entry_path());
                member_ = Member::Unknown;
                stage_ = Stage::InEntry;
                return true;
            case Stage::InEntry: {
                if (member_ == Member::Unknown) {
                    here_bracket("");
                    stage_ = Stage::Skipping;
                    skip_depth_ = 1;
                    return true;
                }
                SourceRef at = here_bracket(member_path());
                if (member_ == Member::Ciders && !object) {
                    stage_ = Stage::InCiders;
                    return true;
                }
                if (member_ == Member::CiderMapping && object) {
                    stage_ = Stage::InMapping;
                    return true;
                }
                return wrong_type_for_member(at);
            }
            case Stage::InCiders:
                return fail_at(here_bracket(cider_path()), "expected a CIDR string");
            case Stage::InMapping:
                return fail_at(here_bracket(mapping_path()), "expected a CIDR string");
            case Stage::Skipping: {
                SourceRef at = here_bracket(entry_path());
                if (++skip_depth_ > kMaxIgnoredNesting)
                    return fail_at(at, "an ignored member nests deeper than " +
                                           std::to_string(kMaxIgnoredNesting) + " levels");
                return true;
            }
            case Stage::Done: break;
        }
        return fail_at(here_bracket(""), "unexpected value after the array");
    }

    bool key(std::string_view k) {
        if (stage_ == Stage::Skipping) {
            here("");
            return true;
        }
        if (stage_ == Stage::InMapping) {
            SourceRef at = here(member_path());
            for (const auto& [seen_key, value] : pending_.mapping)
                if (seen_key.text == k)
                    return fail_at(at, "duplicate key " + quote_for_error(k) + " (first at " +
                                           seen_key.at.to_string() + ")");
            mapping_key_ = Located{std::string(k), std::move(at)};
            return true;
        }
        // Stage::InEntry: the only other stage in which the reader reports keys.
        member_ = member_of(k);
        SourceRef at = here(member_ == Member::Unknown ? entry_path() : member_path());
        bool seen = false;
        if (static_cast<size_t>(member_) < kStringMembers)
            seen = pending_.strings[static_cast<size_t>(member_)].has_value();
        else if (member_ == Member::Ciders)
            seen = std::exchange(pending_.has_ciders, true);
        else if (member_ == Member::CiderMapping)
            seen = std::exchange(pending_.has_mapping, true);
        if (seen) return fail_at(at, "member given twice in one object");
        return true;
    }

    bool close() {
        here_bracket("");
        switch (stage_) {
            case Stage::InEntries: stage_ = Stage::Done; return true;
            case Stage::InEntry: stage_ = Stage::InEntries; return finish_entry();
            case Stage::InCiders:
            case Stage::InMapping: stage_ = Stage::InEntry; return true;
            case Stage::Skipping:
                if (--skip_depth_ == 0) stage_ = Stage::InEntry;
                return true;
            case Stage::BeforeRoot:
            case Stage::Done: break;
        }
        return fail_at(here_bracket(""), "unbalanced JSON");  // the reader rejects this first
    }

    bool finish_entry() {
        static constexpr Member kRequired[] = {Member::Cluster, Member::Identity, Member::PrivateIp,
                                               Member::Mask, Member::Gateway};
        for (Member m : kRequired)
            if (!pending_.strings[static_cast<size_t>(m)])
                return fail_at(
                    pending_.start,
                    "missing member \"" + std::string(kMemberNames[static_cast<size_t>(m)]) + "\"");
        if (!pending_.has_ciders)
            return fail_at(pending_.start, "missing member \"ciders\" (use [] for none)");

        auto& s = pending_.strings;
        auto str = [&](Member m) -> Located& { return *s[static_cast<size_t>(m)]; };
        RoutesJsonEntry e;
        e.cluster = str(Member::Cluster).text;
        e.cluster_at = str(Member::Cluster).at;
        if (auto st = check_nonempty_field(e.cluster, e.cluster_at); !st)
            return fail(Error{st.error()});
        ClientConfig& c = e.client;
        c.identity = str(Member::Identity).text;
        e.identity_at = str(Member::Identity).at;
        if (auto st = check_nonempty_field(c.identity, e.identity_at); !st)
            return fail(Error{st.error()});
        if (s[static_cast<size_t>(Member::Name)]) c.name = str(Member::Name).text;
        e.private_ip_at = str(Member::PrivateIp).at;
        auto ip = check_ipv4_field(str(Member::PrivateIp).text, e.private_ip_at);
        if (!ip) return fail(Error{ip.error()});
        c.private_ip = *ip;
        auto mask = check_netmask_field(str(Member::Mask).text, str(Member::Mask).at);
        if (!mask) return fail(Error{mask.error()});
        c.mask = *mask;
        auto gw = check_ipv4_field(str(Member::Gateway).text, str(Member::Gateway).at);
        if (!gw) return fail(Error{gw.error()});
        c.gateway = *gw;
        c.ciders.reserve(pending_.ciders.size());
        for (const Located& l : pending_.ciders) {
            auto cidr = check_cidr_field(l.text, l.at);
            if (!cidr) return fail(Error{cidr.error()});
            c.ciders.push_back(*cidr);
        }
        for (const auto& [k, v] : pending_.mapping) {
            auto from = check_cidr_field(k.text, k.at);
            if (!from) return fail(Error{from.error()});
            auto to = check_cidr_field(v.text, v.at);
            if (!to) return fail(Error{to.error()});
            c.cider_mapping.push_back(CidrMapping{*from, *to});
        }
        c.origin = pending_.start.to_string();
        entries.push_back(std::move(e));
        ++index_;
        return true;
    }

    std::string_view text_;
    std::string_view file_;
    const rapidjson::MemoryStream& is_;
    PositionCursor cursor_;
    size_t last_end_ = 0;  // offset just after the last token reported

    Stage stage_ = Stage::BeforeRoot;
    size_t index_ = 0;                 // index of the entry being read
    Member member_ = Member::Unknown;  // member whose value comes next (InEntry)
    int skip_depth_ = 0;               // open arrays/objects inside an ignored member (Skipping)
    PendingEntry pending_;
    Located mapping_key_;  // key whose value comes next (InMapping)
};

Result<std::vector<RoutesJsonEntry>> parse_impl(std::string_view text, std::string_view filename) {
    rapidjson::MemoryStream is(text.data(), text.size());
    RoutesHandler handler(text, filename, is);
    rapidjson::Reader reader;
    constexpr unsigned kFlags =
        rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag;
    rapidjson::ParseResult r = reader.Parse<kFlags>(is, handler);
    if (handler.error) return std::move(*handler.error);
    if (r.IsError()) {
        auto [line, col] = PositionCursor(text).at(r.Offset());
        return error_at(SourceRef{std::string(filename), line, col, ""},
                        std::string("invalid JSON: ") + rapidjson::GetParseError_En(r.Code()));
    }
    if (auto st = check_unique_clients(handler.entries); !st) return Error{st.error()};
    return std::move(handler.entries);
}

}  // namespace

Result<std::vector<RoutesJsonEntry>> parse_routes_json(std::string_view text,
                                                       std::string_view filename) {
    try {
        return parse_impl(text, filename);
    } catch (const std::exception& e) {  // std::bad_alloc: RapidJSON itself does not throw
        return make_error(std::string(filename) + ": " + e.what());
    }
}

Result<std::vector<RoutesJsonEntry>> load_routes_json_file(const std::string& path) {
    auto text = read_text_file(path);
    if (!text) return make_error(path + ": " + text.error());
    return parse_routes_json(*text, path);
}

}  // namespace rustun

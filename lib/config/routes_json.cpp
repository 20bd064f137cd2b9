#include "config/routes_json.hpp"

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <array>
#include <exception>
#include <memory>
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

    TextPos at(size_t offset) {
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
        return TextPos{line_, col_};
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

// A value as read and where it starts (its key path is built only for an error).
struct Located {
    std::string text;
    TextPos at;
};

// The members of one array element as read, before validation.
struct PendingEntry {
    TextPos start;  // the object's '{', path "[i]"
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
        : text_(text), file_(std::make_shared<const std::string>(file)), is_(is), cursor_(text) {}

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
    // Every token passes here, so it builds no string: a SourceRef is made (ref()) only for an
    // error.
    TextPos here(bool bracket = false) {
        size_t start = last_end_;
        while (start < text_.size()) {
            char c = text_[start];
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != ',' && c != ':') break;
            ++start;
        }
        last_end_ = bracket ? start + 1 : is_.Tell();
        return cursor_.at(start);
    }
    TextPos here_bracket() { return here(true); }
    SourceRef ref(TextPos at, std::string path) const { return SourceRef{*file_, at.line, at.column, std::move(path)}; }

    std::string entry_path() const {
        std::string p(1, '[');  // not "[" + std::string: GCC 12 -O3 false -Wrestrict
        return p.append(std::to_string(index_)).append(1, ']');
    }
    std::string member_path() const {
        return entry_path() + "." + std::string(kMemberNames[static_cast<size_t>(member_)]);
    }
    std::string cider_path(size_t i) const { return entry_path() + ".ciders[" + std::to_string(i) + "]"; }
    std::string mapping_path(std::string_view key) const {
        return entry_path() + ".cider_mapping[" + quote_for_error(key) + "]";
    }

    bool fail(Error e) {
        error = std::move(e);
        return false;
    }
    bool fail_at(const SourceRef& at, std::string_view what) { return fail(error_at(at, what)); }
    bool fail_at(TextPos at, std::string path, std::string_view what) { return fail_at(ref(at, std::move(path)), what); }

    bool wrong_type_for_member(const SourceRef& at) {
        if (member_ == Member::Ciders) return fail_at(at, "expected an array of CIDR strings");
        if (member_ == Member::CiderMapping)
            return fail_at(at, "expected an object mapping CIDR strings to CIDR strings");
        return fail_at(at, "expected a string");
    }

    bool scalar(bool is_string, std::string_view s) {
        switch (stage_) {
            case Stage::BeforeRoot:
                return fail_at(here(), "", "expected a JSON array of client objects");
            case Stage::InEntries:
                return fail_at(here(), entry_path(), "expected an object (one client)");
            case Stage::InEntry: {
                const TextPos at = here();
                if (member_ == Member::Unknown) return true;
                if (!is_string || static_cast<size_t>(member_) >= kStringMembers)
                    return wrong_type_for_member(ref(at, member_path()));
                pending_.strings[static_cast<size_t>(member_)] = Located{std::string(s), at};
                return true;
            }
            case Stage::InCiders: {
                const TextPos at = here();
                if (!is_string) return fail_at(at, cider_path(pending_.ciders.size()), "expected a CIDR string");
                pending_.ciders.push_back(Located{std::string(s), at});
                return true;
            }
            case Stage::InMapping: {
                const TextPos at = here();
                if (!is_string) return fail_at(at, mapping_path(mapping_key_.text), "expected a CIDR string");
                pending_.mapping.emplace_back(mapping_key_, Located{std::string(s), at});
                return true;
            }
            case Stage::Skipping: here(); return true;
            case Stage::Done: break;
        }
        return fail_at(here(), "", "unexpected value after the array");
    }

    bool open(bool object) {
        switch (stage_) {
            case Stage::BeforeRoot:
                if (object)
                    return fail_at(here_bracket(), "", "expected a JSON array of client objects");
                here_bracket();
                stage_ = Stage::InEntries;
                return true;
            case Stage::InEntries:
                if (!object)
                    return fail_at(here_bracket(), entry_path(), "expected an object (one client)");
                pending_.strings = {};
                pending_.has_ciders = pending_.has_mapping = false;
                pending_.ciders.clear();  // keeps the capacity: no allocation per entry
                pending_.mapping.clear();
                pending_.start = here_bracket();
                member_ = Member::Unknown;
                stage_ = Stage::InEntry;
                return true;
            case Stage::InEntry: {
                const TextPos at = here_bracket();
                if (member_ == Member::Unknown) {
                    stage_ = Stage::Skipping;
                    skip_depth_ = 1;
                    return true;
                }
                if (member_ == Member::Ciders && !object) {
                    stage_ = Stage::InCiders;
                    return true;
                }
                if (member_ == Member::CiderMapping && object) {
                    stage_ = Stage::InMapping;
                    return true;
                }
                return wrong_type_for_member(ref(at, member_path()));
            }
            case Stage::InCiders:
                return fail_at(here_bracket(), cider_path(pending_.ciders.size()), "expected a CIDR string");
            case Stage::InMapping:
                return fail_at(here_bracket(), mapping_path(mapping_key_.text), "expected a CIDR string");
            case Stage::Skipping: {
                const TextPos at = here_bracket();
                if (++skip_depth_ > kMaxIgnoredNesting)
                    return fail_at(at, entry_path(), "an ignored member nests deeper than " +
                                           std::to_string(kMaxIgnoredNesting) + " levels");
                return true;
            }
            case Stage::Done: break;
        }
        return fail_at(here_bracket(), "", "unexpected value after the array");
    }

    bool key(std::string_view k) {
        if (stage_ == Stage::Skipping) {
            here();
            return true;
        }
        if (stage_ == Stage::InMapping) {
            const TextPos at = here();
            for (const auto& [seen_key, value] : pending_.mapping)
                if (seen_key.text == k)
                    return fail_at(at, member_path(), "duplicate key " + quote_for_error(k) + " (first at " +
                                           ref(seen_key.at, member_path()).to_string() + ")");
            mapping_key_ = Located{std::string(k), at};
            return true;
        }
        // Stage::InEntry: the only other stage in which the reader reports keys.
        member_ = member_of(k);
        const TextPos at = here();
        bool seen = false;
        if (static_cast<size_t>(member_) < kStringMembers)
            seen = pending_.strings[static_cast<size_t>(member_)].has_value();
        else if (member_ == Member::Ciders)
            seen = std::exchange(pending_.has_ciders, true);
        else if (member_ == Member::CiderMapping)
            seen = std::exchange(pending_.has_mapping, true);
        if (seen)
            return fail_at(at, member_ == Member::Unknown ? entry_path() : member_path(),
                           "member given twice in one object");
        return true;
    }

    bool close() {
        here_bracket();
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
        return fail_at(here_bracket(), "", "unbalanced JSON");  // the reader rejects this first
    }

    // The path of member `m` of the current entry, for an error.
    std::string path_of(Member m) const {
        return entry_path() + "." + std::string(kMemberNames[static_cast<size_t>(m)]);
    }

    bool finish_entry() {
        static constexpr Member kRequired[] = {Member::Cluster, Member::Identity, Member::PrivateIp,
                                               Member::Mask, Member::Gateway};
        for (Member m : kRequired)
            if (!pending_.strings[static_cast<size_t>(m)])
                return fail_at(
                    pending_.start, entry_path(),
                    "missing member \"" + std::string(kMemberNames[static_cast<size_t>(m)]) + "\"");
        if (!pending_.has_ciders)
            return fail_at(pending_.start, entry_path(), "missing member \"ciders\" (use [] for none)");

        // The success path builds no location string; each check_*_field() call below only
        // runs for a value that failed, to word the error.
        auto& s = pending_.strings;
        auto str = [&](Member m) -> Located& { return *s[static_cast<size_t>(m)]; };
        auto where = [&](Member m) { return ref(str(m).at, path_of(m)); };
        RoutesJsonEntry e;
        e.file = file_;
        e.index = static_cast<uint32_t>(index_);
        e.cluster = std::move(str(Member::Cluster).text);
        e.cluster_pos = str(Member::Cluster).at;
        if (e.cluster.empty()) return fail(Error{check_nonempty_field(e.cluster, where(Member::Cluster)).error()});
        ClientConfig& c = e.client;
        c.identity = std::move(str(Member::Identity).text);
        e.identity_pos = str(Member::Identity).at;
        if (c.identity.empty()) return fail(Error{check_nonempty_field(c.identity, where(Member::Identity)).error()});
        if (s[static_cast<size_t>(Member::Name)]) c.name = std::move(str(Member::Name).text);
        e.private_ip_pos = str(Member::PrivateIp).at;
        const std::string& ip_text = str(Member::PrivateIp).text;
        if (auto ip = parse_ipv4(ip_text)) c.private_ip = *ip;
        else return fail(Error{check_ipv4_field(ip_text, where(Member::PrivateIp)).error()});
        const std::string& mask_text = str(Member::Mask).text;
        auto mask = parse_ipv4(mask_text);
        if (mask && netmask_prefix_len(*mask)) c.mask = *mask;
        else return fail(Error{check_netmask_field(mask_text, where(Member::Mask)).error()});
        const std::string& gw_text = str(Member::Gateway).text;
        if (auto gw = parse_ipv4(gw_text)) c.gateway = *gw;
        else return fail(Error{check_ipv4_field(gw_text, where(Member::Gateway)).error()});
        c.ciders.reserve(pending_.ciders.size());
        for (size_t i = 0; i < pending_.ciders.size(); ++i) {
            const Located& l = pending_.ciders[i];
            auto cidr = check_cidr_field(l.text, ref(l.at, cider_path(i)));
            if (!cidr) return fail(Error{cidr.error()});
            c.ciders.push_back(*cidr);
        }
        for (const auto& [k, v] : pending_.mapping) {
            auto from = check_cidr_field(k.text, ref(k.at, mapping_path(k.text)));
            if (!from) return fail(Error{from.error()});
            auto to = check_cidr_field(v.text, ref(v.at, mapping_path(k.text)));
            if (!to) return fail(Error{to.error()});
            c.cider_mapping.push_back(CidrMapping{*from, *to});
        }
        c.origin = ref(pending_.start, entry_path()).to_string();
        entries.push_back(std::move(e));
        ++index_;
        return true;
    }

    std::string_view text_;
    std::shared_ptr<const std::string> file_;  // shared by every entry (LocatedClient::file)
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
        const TextPos at = PositionCursor(text).at(r.Offset());
        return error_at(SourceRef{std::string(filename), at.line, at.column, ""},
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

#include "crypto/crypto_item.hpp"

namespace rustun {

const char* crypto_status_name(CryptoStatus s) {
    switch (s) {
        case CryptoStatus::Ok: return "ok";
        case CryptoStatus::TooShort: return "too_short";
        case CryptoStatus::AuthFailed: return "auth_failed";
        case CryptoStatus::TooLong: return "too_long";
        case CryptoStatus::NoSpace: return "no_space";
        case CryptoStatus::BadArgument: return "bad_argument";
        case CryptoStatus::EngineError: return "engine_error";
    }
    return "unknown";
}

}  // namespace rustun

//! Error codes and the one error shape every endpoint answers with:
//! `{"error": {"code": "...", "message": "..."}}`.

use serde::{Deserialize, Serialize};

/// Machine-readable error codes. Scripts match on these strings; keep them stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidRequest,
    InvalidJson,
    UnsupportedMediaType,
    PayloadTooLarge,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    NameTaken,
    NameImmutable,
    Conflict,
    RequestTimeout,
    TooManyRequests,
    /// Too many request headers, or too large ones (431).
    HeadersTooLarge,
    /// A request target longer than the server reads (414).
    UriTooLong,
    TokenDisabled,
    TokenExpired,
    TokenRevoked,
    TokenExhausted,
    TokenSourceDenied,
    TokenNotYetValid,
    /// Several tenants are open to the caller and the request named none (a write happens in
    /// one tenant).
    TenantRequired,
    /// The owner asked for is not a member of the tenant the token is minted in.
    UnknownOwner,
    /// Only users with the REST API role (`api_users`) may create API tokens.
    ApiRoleRequired,
    /// The API token's scope (`read`, `mint`) does not cover the request.
    ScopeDenied,
    /// The request's path is outside the API token's path restriction.
    PathDenied,
    /// The request's Referer is outside the API token's referrer restriction.
    ReferrerDenied,
    Internal,
    /// The store failed (a disk error, a database that cannot be reached): try again later.
    StoreUnavailable,
    /// A code this version does not know (a newer daemon).
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// The HTTP status that goes with each code.
    pub fn status(self) -> u16 {
        use ErrorCode::*;
        match self {
            InvalidRequest | InvalidJson | NameImmutable | TenantRequired | UnknownOwner => 400,
            Unauthorized => 401,
            Forbidden | TokenDisabled | TokenSourceDenied | TokenNotYetValid | ApiRoleRequired
            | ScopeDenied | PathDenied | ReferrerDenied => 403,
            NotFound => 404,
            MethodNotAllowed => 405,
            RequestTimeout => 408,
            NameTaken | Conflict => 409,
            TokenExpired | TokenRevoked | TokenExhausted => 410,
            PayloadTooLarge => 413,
            UnsupportedMediaType => 415,
            TooManyRequests => 429,
            HeadersTooLarge => 431,
            UriTooLong => 414,
            Internal | Unknown => 500,
            StoreUnavailable => 503,
        }
    }

    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            InvalidRequest => "invalid_request",
            InvalidJson => "invalid_json",
            UnsupportedMediaType => "unsupported_media_type",
            PayloadTooLarge => "payload_too_large",
            Unauthorized => "unauthorized",
            Forbidden => "forbidden",
            NotFound => "not_found",
            MethodNotAllowed => "method_not_allowed",
            NameTaken => "name_taken",
            NameImmutable => "name_immutable",
            Conflict => "conflict",
            RequestTimeout => "request_timeout",
            TooManyRequests => "too_many_requests",
            HeadersTooLarge => "headers_too_large",
            UriTooLong => "uri_too_long",
            TokenDisabled => "token_disabled",
            TokenExpired => "token_expired",
            TokenRevoked => "token_revoked",
            TokenExhausted => "token_exhausted",
            TokenSourceDenied => "token_source_denied",
            TokenNotYetValid => "token_not_yet_valid",
            TenantRequired => "tenant_required",
            UnknownOwner => "unknown_owner",
            ApiRoleRequired => "api_role_required",
            ScopeDenied => "scope_denied",
            PathDenied => "path_denied",
            ReferrerDenied => "referrer_denied",
            Internal => "internal",
            StoreUnavailable => "store_unavailable",
            Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    pub message: String,
    /// The daemon's id for the request (also its `X-Request-Id` header): the key to its lines
    /// in the daemon's log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// The body of every error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorBody {
            error: ErrorDetail {
                code,
                message: message.into(),
                request_id: None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialize_as_snake_case_and_match_as_str() {
        for code in [
            ErrorCode::TokenExhausted,
            ErrorCode::InvalidJson,
            ErrorCode::NameTaken,
        ] {
            let json = serde_json::to_string(&code).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
        let unknown: ErrorCode =
            serde_json::from_str("\"brand_new\"").unwrap_or(ErrorCode::Internal);
        assert_eq!(unknown, ErrorCode::Unknown);
    }
}

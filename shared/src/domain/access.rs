//! Who is calling and what they may touch, as plain types and rules: a token's hash (the only form
//! in which a token is stored; never logged raw), the token record's expiry and revocation, the
//! three permissions, and the tenant scope every read and write is confined to. Looking a token up
//! is the service's ([`crate::service::auth`]); reading it off a request is the adapters'.

use std::collections::BTreeSet;

use sha2::{Digest, Sha256};

use super::error::ApiError;
use super::{OfflineReason, TenantId, Timestamp, UserId};

/// What an endpoint requires of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// List and search.
    List,
    /// One user's presence.
    Detail,
    /// Forced offline.
    Offline,
}

impl Permission {
    pub fn name(self) -> &'static str {
        match self {
            Permission::List => "message:center:online:list",
            Permission::Detail => "message:center:online:detail",
            Permission::Offline => "message:center:offline",
        }
    }
}

/// The SHA-256 of a token, in lower-case hex: the only form in which a token is stored.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TokenHash(String);

impl TokenHash {
    pub fn of(token: &str) -> Self {
        TokenHash(hex::encode(Sha256::digest(token.as_bytes())))
    }

    /// A hash read back from the store.
    pub fn from_stored(hex: String) -> Self {
        TokenHash(hex)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A token as the identity service issued it, keyed by its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub hash: TokenHash,
    pub user_id: UserId,
    pub tenant_id: TenantId,
    pub full_name: String,
    pub avatar: Option<String>,
    pub permissions: BTreeSet<String>,
    /// A platform operator, who may act across tenants.
    pub platform: bool,
    /// `None`: does not expire.
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

impl TokenRecord {
    /// Usable at `now`: neither expired nor revoked.
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|at| at > now)
    }
}

/// Why a session opened with a token must end at `now`, given that token's record as the store
/// holds it now (`None`: deleted by the identity service, or removed by the cleanup after it
/// expired); `None` while the token is live. A session lives no longer than its token: revoked is
/// a forced offline's doing (`FORCED`), expired or deleted is `EXPIRED`.
pub fn session_end_reason(token: Option<&TokenRecord>, now: Timestamp) -> Option<OfflineReason> {
    match token {
        Some(record) if record.revoked_at.is_some() => Some(OfflineReason::Forced),
        Some(record) if record.is_live(now) => None,
        _ => Some(OfflineReason::Expired),
    }
}

/// The tenants a request may see and touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantScope {
    /// Every tenant: a platform caller that did not narrow.
    All,
    Tenant(TenantId),
}

impl TenantScope {
    pub fn contains(self, tenant: TenantId) -> bool {
        match self {
            TenantScope::All => true,
            TenantScope::Tenant(own) => own == tenant,
        }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user_id: UserId,
    pub tenant_id: TenantId,
    pub full_name: String,
    pub avatar: Option<String>,
    pub permissions: BTreeSet<String>,
    pub platform: bool,
}

impl From<TokenRecord> for Caller {
    /// The holder of a token (whether the token is live is [`TokenRecord::is_live`]'s to say).
    fn from(record: TokenRecord) -> Self {
        Caller {
            user_id: record.user_id,
            tenant_id: record.tenant_id,
            full_name: record.full_name,
            avatar: record.avatar,
            permissions: record.permissions,
            platform: record.platform,
        }
    }
}

impl Caller {
    /// 403 unless the caller holds `permission`.
    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        if self.permissions.contains(permission.name()) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "This call needs the permission {}.",
                permission.name()
            )))
        }
    }

    /// The scope of a request that asked for `requested` (the `tenantId` parameter): a platform
    /// caller gets what it asked for (every tenant by default); anyone else gets their own tenant,
    /// and asking for another is 403.
    pub fn scope(&self, requested: Option<TenantId>) -> Result<TenantScope, ApiError> {
        match (self.platform, requested) {
            (true, None) => Ok(TenantScope::All),
            (true, Some(tenant)) => Ok(TenantScope::Tenant(tenant)),
            (false, Some(tenant)) if tenant != self.tenant_id => Err(ApiError::forbidden_field(
                "tenantId",
                "You may only see your own tenant; leave tenantId out or set it to your own.",
            )),
            (false, _) => Ok(TenantScope::Tenant(self.tenant_id)),
        }
    }
}

/// Longest token accepted; anything longer is malformed.
const MAX_TOKEN_LEN: usize = 4096;

/// RFC 6750 `b64token`: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
pub fn is_token_syntax(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && token.len() <= MAX_TOKEN_LEN
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/'))
}

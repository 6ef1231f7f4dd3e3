//! The service's vocabulary, free of any transport or storage: ids, times, sessions, who may do
//! what ([`access`]) and the token-records file that seeds it ([`token_file`]), the errors callers
//! see, the one implementation of filtering, ordering and paging that every store shares, page
//! cursors, and the time budget of long work. The bottom layer: nothing here imports another
//! module of the crate.

pub mod access;
pub mod audit;
pub mod budget;
pub mod error;
pub mod events;
pub mod filter;
pub mod ids;
pub mod listing;
pub mod order;
pub mod page_token;
pub mod plan;
pub mod session;
pub mod time;
pub mod token_file;

pub use access::{Caller, Permission, TenantScope, TokenHash, TokenRecord};
pub use audit::{select_audit_page, AuditPage, AuditQuery, AuditRecord};
pub use error::{ApiError, ErrorKind, StoreError};
pub use filter::{fold, Filter, FilterKey, FilterOp, FilterValue, Matcher, ValueType};
pub use ids::{SessionId, TenantId, UserId};
pub use listing::{select_page, PageSelector, ReadBudget, SessionPage, SessionQuery};
pub use order::{OrderBy, OrderSort, Paging, Position, SortKey};
pub use plan::{key_range, plan, Counter, KeyRange, ListingPlan, ReadMeter};
pub use session::{InfoScope, OfflineReason, Presence, Session, SessionView};
pub use time::Timestamp;

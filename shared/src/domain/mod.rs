//! The service's vocabulary, free of any transport or storage: ids, times, sessions, and the one
//! implementation of filtering, ordering and paging that every store shares.

pub mod filter;
pub mod ids;
pub mod listing;
pub mod order;
pub mod plan;
pub mod session;
pub mod time;

pub use filter::{Filter, FilterKey, FilterOp, FilterValue, ValueType};
pub use ids::{SessionId, TenantId, UserId};
pub use listing::{select_page, SessionPage, SessionQuery};
pub use order::{OrderBy, OrderSort, Paging, Position, SortKey};
pub use plan::{key_range, Counter, KeyRange};
pub use session::{InfoScope, OfflineReason, Presence, Session, SessionView};
pub use time::Timestamp;

//! Values of structured fields that many tracing call sites share.
//!
//! The `role` field says which end of the conversation produced a record; `--log-role`,
//! [`RoleFilter`](super::RoleFilter) and the JSON/syslog writers read it back with
//! [`Role::from_field`]. The protocol core records `role = ends.role.as_str()`; the client and
//! server shells, whose role is fixed, write `role = ROLE_CLIENT` or `role = ROLE_SERVER`, so
//! the spelling lives in one place ([`Role::as_str`]) and every record carries the same bytes.

use crate::proto::Role;

/// The `role` field value of records produced by client code (`"client"`).
pub(crate) const ROLE_CLIENT: &str = Role::Client.as_str();

/// The `role` field value of records produced by server code (`"server"`).
pub(crate) const ROLE_SERVER: &str = Role::Server.as_str();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_values_read_back_as_their_role() {
        assert_eq!(ROLE_CLIENT, "client");
        assert_eq!(ROLE_SERVER, "server");
        assert_eq!(Role::from_field(ROLE_CLIENT), Some(Role::Client));
        assert_eq!(Role::from_field(ROLE_SERVER), Some(Role::Server));
    }
}

//! Who the client says it is: the user name sent in CLIENT_NAME and the
//! host name sent in HOST_NAME, which servers use for access security.
//!
//! EPICS's libca takes the user name from the account database
//! (`getpwuid(getuid())`, the *real* user id; an empty name if there is no
//! entry) and the host name from `gethostname()` (cut to 127 bytes, or
//! `<unknown host>` when it fails). We do the same, except that `USER` or
//! `LOGNAME`, when set and not empty, name the user first, as Python's
//! caproto does (through `getpass.getuser`), so a test or a shared account
//! can name itself.

/// Longest host name libca sends (its buffer is 128 bytes with the NUL).
const MAX_HOST_NAME: usize = 127;

/// The user name to send: `USER`, else `LOGNAME` (read through `lookup`),
/// else the account name of the real user id, else an empty string.
pub fn user_name(lookup: &impl Fn(&str) -> Option<String>) -> String {
    lookup("USER")
        .filter(|s| !s.is_empty())
        .or_else(|| lookup("LOGNAME").filter(|s| !s.is_empty()))
        .or_else(account_name)
        .unwrap_or_default()
}

/// The account name of the process's real user id, as `osiGetUserName`.
pub fn account_name() -> Option<String> {
    let uid = nix::unistd::getuid();
    nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map(|u| u.name)
        .filter(|n| !n.is_empty())
}

/// The host name to send: `gethostname()`, cut to 127 bytes at a character
/// boundary, or `<unknown host>` as libca sends when it cannot be read.
pub fn host_name() -> String {
    match nix::unistd::gethostname() {
        Ok(name) => truncate(name.to_string_lossy().into_owned(), MAX_HOST_NAME),
        Err(_) => "<unknown host>".to_string(),
    }
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names_the_user_first_then_the_account() {
        let env = |user: Option<&str>, logname: Option<&str>| {
            let (u, l) = (user.map(String::from), logname.map(String::from));
            move |k: &str| match k {
                "USER" => u.clone(),
                "LOGNAME" => l.clone(),
                _ => None,
            }
        };
        assert_eq!(user_name(&env(Some("alice"), Some("bob"))), "alice");
        assert_eq!(user_name(&env(Some(""), Some("bob"))), "bob");
        let account = account_name().unwrap_or_default();
        assert_eq!(user_name(&env(None, None)), account);
        assert_eq!(user_name(&env(Some(""), Some(""))), account);
    }

    #[test]
    fn the_account_name_is_the_password_entry_of_the_real_uid() {
        // Compare with /etc/passwd read by hand (the uid field is the third).
        let uid = nix::unistd::getuid().as_raw().to_string();
        let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        let expected = passwd.lines().find_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            (f.len() > 2 && f[2] == uid).then(|| f[0].to_string())
        });
        if expected.is_some() {
            assert_eq!(account_name(), expected);
        }
    }

    #[test]
    fn host_name_is_the_kernel_host_name_cut_like_libca() {
        let kernel = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        if !kernel.is_empty() {
            assert_eq!(host_name(), truncate(kernel, MAX_HOST_NAME));
        }
        assert_eq!(truncate("a".repeat(200), 127).len(), 127);
        assert_eq!(truncate("é".repeat(100), 127).len(), 126);
    }
}

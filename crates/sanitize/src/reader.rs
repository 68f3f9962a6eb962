//! Who an output goes back to. A platform plants a canary marker in each tenant's
//! data; the marker in the output of another tenant's program is a cross-tenant
//! leak, but in the output of the tenant's own program it is just its data.
//!
//! A tenant id is 1 to 128 letters, digits, `-`, `_`, `.` and `@` that starts
//! and ends with a letter or digit. So `-_.@` right after a marker are
//! punctuation (`… EXECGATE-TENANT-acme.`), never part of another tenant's id.

/// Characters that may follow a marker's id as punctuation.
const TRAILING_PUNCTUATION: [char; 4] = ['-', '_', '.', '@'];

/// The client an output is returned to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reader<'a> {
    tenant: Option<&'a str>,
}

impl<'a> Reader<'a> {
    /// A reader of no tenant (an anonymous client, a tool): every marker is a leak.
    pub const ANYONE: Reader<'static> = Reader { tenant: None };

    /// The reader whose tenant id is `tenant` (an API key's id, a token's
    /// subject); a reader whose id is not a valid tenant id owns no marker.
    pub fn tenant(tenant: &'a str) -> Self {
        Self {
            tenant: is_tenant_id(tenant).then_some(tenant),
        }
    }

    /// The reader's tenant id, if it has one.
    pub fn tenant_id(&self) -> Option<&'a str> {
        self.tenant
    }

    /// Whether a marker naming `marker_tenant` (as a rule's `tenant` group
    /// captured it, punctuation and all) is the reader's own.
    pub(crate) fn owns(&self, marker_tenant: &str) -> bool {
        self.tenant == Some(marker_tenant.trim_end_matches(TRAILING_PUNCTUATION))
    }
}

/// Whether `id` can name a tenant in a marker (see the module docs).
pub fn is_tenant_id(id: &str) -> bool {
    let allowed = |c: char| c.is_ascii_alphanumeric() || TRAILING_PUNCTUATION.contains(&c);
    let ends = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    (1..=128).contains(&id.len())
        && id.chars().all(allowed)
        && ends(id.chars().next())
        && ends(id.chars().last())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids_start_and_end_with_a_letter_or_digit() {
        for id in ["a", "acme", "acme-eu", "a.b@c_d-1", &"x".repeat(128)] {
            assert!(is_tenant_id(id), "{id}");
        }
        for id in [
            "",
            "-acme",
            "acme-",
            "_a",
            "a.",
            "a b",
            "acmé",
            &"x".repeat(129),
        ] {
            assert!(!is_tenant_id(id), "{id}");
        }
    }

    #[test]
    fn punctuation_after_a_marker_is_not_part_of_the_id() {
        let acme = Reader::tenant("acme");
        assert!(acme.owns("acme") && acme.owns("acme.") && acme.owns("acme-."));
        assert!(!acme.owns("acme-eu") && !acme.owns("_acme") && !acme.owns("acm"));
        assert_eq!(Reader::tenant("acme-").tenant_id(), None, "not a tenant id");
        assert!(!Reader::ANYONE.owns("acme"));
    }
}

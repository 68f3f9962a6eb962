//! Who an output goes back to. A platform plants a canary marker in each tenant's
//! data; the marker in the output of another tenant's program is a cross-tenant
//! leak, but in the output of the tenant's own program it is just its data.

/// The client an output is returned to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reader<'a> {
    tenant: Option<&'a str>,
}

impl<'a> Reader<'a> {
    /// A reader of no tenant (an anonymous client, a tool): every marker is a leak.
    pub const ANYONE: Reader<'static> = Reader { tenant: None };

    /// The reader whose tenant id is `tenant` (an API key's id, a token's subject).
    pub fn tenant(tenant: &'a str) -> Self {
        Self {
            tenant: Some(tenant),
        }
    }

    /// The reader's tenant id, if it has one.
    pub fn tenant_id(&self) -> Option<&'a str> {
        self.tenant
    }

    /// Whether a marker's tenant id is the reader's own.
    pub(crate) fn owns(&self, marker_tenant: &str) -> bool {
        self.tenant == Some(marker_tenant)
    }
}

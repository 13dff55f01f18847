//! The input of translation: VirtualIP documents and the Secrets their `secretRef`s resolve
//! against. The standalone file ([`crate::config`]) and the Kubernetes view
//! ([`crate::k8s::view`]) both produce it, so the data plane knows neither.

use std::collections::BTreeMap;

use crate::spec::{SecretKeyRef, VirtualIpSpec};

/// One VirtualIP to translate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VirtualIpDoc {
    /// metadata.name.
    pub name: String,
    /// The spec.
    pub spec: VirtualIpSpec,
}

/// VirtualIPs and Secrets, as the front ends deliver them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Documents {
    /// VirtualIPs in order (file order, or by name).
    pub virtual_ips: Vec<VirtualIpDoc>,
    /// Secrets: name -> key -> value (`data` base64-decoded, `stringData` as is).
    pub secrets: BTreeMap<String, BTreeMap<String, String>>,
}

impl Documents {
    /// Resolve a secretRef against the Secrets.
    pub fn password(&self, r: &SecretKeyRef) -> Result<String, String> {
        let secret = self
            .secrets
            .get(&r.name)
            .ok_or_else(|| format!("no Secret {:?} in the file", r.name))?;
        secret
            .get(&r.key)
            .cloned()
            .ok_or_else(|| format!("Secret {:?} has no key {:?}", r.name, r.key))
    }
}

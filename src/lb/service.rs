//! What a LoadBalancer Service asks of kube-vrrp, read once from the Service object: its class,
//! address families, requested pool and addresses, sharing key, ports and traffic policy.

use std::collections::BTreeMap;
use std::net::IpAddr;

use k8s_openapi::api::core::v1::Service;

/// The loadBalancerClass that is ours.
pub const CLASS: &str = "kubevrrp.io/vrrp";
/// Ask for a pool by name.
pub const POOL_ANNOTATION: &str = "kubevrrp.io/address-pool";
/// Ask for specific addresses (comma-separated, one per family).
pub const ADDRESSES_ANNOTATION: &str = "kubevrrp.io/loadBalancerIPs";
/// Share one address between Services with the same key and distinct ports.
pub const SHARING_ANNOTATION: &str = "kubevrrp.io/allow-shared-ip";

/// A Service's namespace/name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceKey {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl std::fmt::Display for ServiceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

impl std::str::FromStr for ServiceKey {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        let (namespace, name) = s.split_once('/').ok_or(())?;
        Ok(ServiceKey {
            namespace: namespace.into(),
            name: name.into(),
        })
    }
}

/// One port a Service exposes: (protocol, port).
pub type Port = (String, i32);

/// What one Service asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// namespace/name.
    pub key: ServiceKey,
    /// The Service's labels (pool serviceSelector).
    pub labels: BTreeMap<String, String>,
    /// Its namespace's labels (pool namespaceSelector).
    pub namespace_labels: BTreeMap<String, String>,
    /// IPv4 and/or IPv6, in the Service's order (spec.ipFamilies; default IPv4).
    pub families: Vec<bool>,
    /// The pool it names, if any.
    pub pool: Option<String>,
    /// Addresses it asks for (annotation or spec.loadBalancerIP).
    pub addresses: Vec<IpAddr>,
    /// Sharing key.
    pub sharing_key: Option<String>,
    /// Its ports.
    pub ports: Vec<Port>,
    /// externalTrafficPolicy: Local, with the pod selector the VIP follows.
    pub local: Option<BTreeMap<String, String>>,
    /// Creation time (RFC 3339), so that older Services are served first.
    pub created: String,
}

/// Why a Service's annotations cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("annotation {annotation}: {message}")]
pub struct RequestError {
    /// The annotation.
    pub annotation: &'static str,
    /// What is wrong.
    pub message: String,
}

/// Whether the Service is ours: type LoadBalancer with our class (or, when `take_unclassed`,
/// with no class at all).
pub fn is_ours(svc: &Service, take_unclassed: bool) -> bool {
    let Some(spec) = &svc.spec else { return false };
    if spec.type_.as_deref() != Some("LoadBalancer") {
        return false;
    }
    match spec.load_balancer_class.as_deref() {
        Some(class) => class == CLASS,
        None => take_unclassed,
    }
}

/// Read a Service's request.
pub fn request(
    svc: &Service,
    namespace_labels: &BTreeMap<String, String>,
) -> Result<Request, RequestError> {
    let meta = &svc.metadata;
    let spec = svc.spec.clone().unwrap_or_default();
    let annotations = meta.annotations.clone().unwrap_or_default();
    let mut addresses = Vec::new();
    let requested = annotations
        .get(ADDRESSES_ANNOTATION)
        .cloned()
        .or(spec.load_balancer_ip.clone().filter(|s| !s.is_empty()));
    if let Some(list) = requested {
        for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let a: IpAddr = part.parse().map_err(|_| RequestError {
                annotation: ADDRESSES_ANNOTATION,
                message: format!("{part:?} is not an IP address"),
            })?;
            if addresses
                .iter()
                .any(|b: &IpAddr| b.is_ipv4() == a.is_ipv4())
            {
                return Err(RequestError {
                    annotation: ADDRESSES_ANNOTATION,
                    message: "at most one address per family".into(),
                });
            }
            addresses.push(a);
        }
    }
    let mut families: Vec<bool> = spec
        .ip_families
        .clone()
        .unwrap_or_default()
        .iter()
        .map(|f| f == "IPv4")
        .collect();
    if families.is_empty() {
        families = if addresses.is_empty() {
            vec![true]
        } else {
            addresses.iter().map(IpAddr::is_ipv4).collect()
        };
    }
    if let Some(a) = addresses.iter().find(|a| !families.contains(&a.is_ipv4())) {
        return Err(RequestError {
            annotation: ADDRESSES_ANNOTATION,
            message: format!("{a} is of a family the Service does not have (spec.ipFamilies)"),
        });
    }
    let ports = spec
        .ports
        .unwrap_or_default()
        .iter()
        .map(|p| (p.protocol.clone().unwrap_or_else(|| "TCP".into()), p.port))
        .collect();
    let local = (spec.external_traffic_policy.as_deref() == Some("Local"))
        .then(|| spec.selector.clone().unwrap_or_default());
    Ok(Request {
        key: ServiceKey {
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: meta.name.clone().unwrap_or_default(),
        },
        labels: meta.labels.clone().unwrap_or_default(),
        namespace_labels: namespace_labels.clone(),
        families,
        pool: annotations.get(POOL_ANNOTATION).cloned(),
        addresses,
        sharing_key: annotations.get(SHARING_ANNOTATION).cloned(),
        ports,
        local,
        created: meta
            .creation_timestamp
            .as_ref()
            .map(|t| t.0.to_string())
            .unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(yaml: &str) -> Service {
        serde_saphyr::from_str(yaml).unwrap()
    }

    #[test]
    fn class_decides_what_is_ours() {
        let lb = "apiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: n}\nspec: {type: LoadBalancer, ports: [{port: 80}]}";
        assert!(!is_ours(&svc(lb), false));
        assert!(is_ours(&svc(lb), true));
        let ours = lb.replace(
            "type: LoadBalancer",
            "type: LoadBalancer, loadBalancerClass: kubevrrp.io/vrrp",
        );
        assert!(is_ours(&svc(&ours), false));
        let other = lb.replace(
            "type: LoadBalancer",
            "type: LoadBalancer, loadBalancerClass: metallb",
        );
        assert!(!is_ours(&svc(&other), true));
        let cluster_ip = lb.replace("type: LoadBalancer", "type: ClusterIP");
        assert!(!is_ours(&svc(&cluster_ip), true));
    }

    #[test]
    fn requests_read_annotations_families_ports_and_policy() {
        let s = svc(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: shop\n  annotations: {kubevrrp.io/loadBalancerIPs: \"198.51.100.50, 2001:db8::50\", kubevrrp.io/allow-shared-ip: k1, kubevrrp.io/address-pool: public}\nspec:\n  type: LoadBalancer\n  ipFamilies: [IPv6, IPv4]\n  externalTrafficPolicy: Local\n  selector: {app: web}\n  ports: [{port: 80}, {port: 53, protocol: UDP}]\n",
        );
        let r = request(&s, &BTreeMap::new()).unwrap();
        assert_eq!(r.key.to_string(), "shop/web");
        assert_eq!(r.families, [false, true]);
        assert_eq!(r.addresses.len(), 2);
        assert_eq!(
            (r.pool.as_deref(), r.sharing_key.as_deref()),
            (Some("public"), Some("k1"))
        );
        assert_eq!(r.ports, [("TCP".to_string(), 80), ("UDP".to_string(), 53)]);
        assert_eq!(
            r.local,
            Some(BTreeMap::from([("app".to_string(), "web".to_string())]))
        );
    }

    #[test]
    fn bad_requests_name_the_annotation() {
        let base = "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: shop\n  annotations: {kubevrrp.io/loadBalancerIPs: \"X\"}\nspec: {type: LoadBalancer}\n";
        let e = |v: &str| {
            request(&svc(&base.replace('X', v)), &BTreeMap::new())
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            e("198.51.100.500"),
            "annotation kubevrrp.io/loadBalancerIPs: \"198.51.100.500\" is not an IP address"
        );
        assert_eq!(
            e("198.51.100.5,198.51.100.6"),
            "annotation kubevrrp.io/loadBalancerIPs: at most one address per family"
        );
        let v6_on_v4 = base.replace('X', "2001:db8::5").replace(
            "{type: LoadBalancer}",
            "{type: LoadBalancer, ipFamilies: [IPv4]}",
        );
        assert!(request(&svc(&v6_on_v4), &BTreeMap::new()).is_err());
    }
}

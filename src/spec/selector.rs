//! Kubernetes label selectors, as VirtualIPs (`nodeSelector`, `priorities`) and pods trackers
//! write them.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1 as k8s;
use kube::KubeSchema;
use kube::core::{ParseExpressionError, Selector, SelectorExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A Kubernetes label selector (`matchLabels` and `matchExpressions`).
#[derive(JsonSchema, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LabelSelector {
    /// Labels that must all be equal.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    /// Expressions that must all hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

/// One `matchExpressions` entry.
#[derive(KubeSchema, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[x_kube(validation = Rule::new("(self.operator in ['In', 'NotIn'] && has(self.values) && size(self.values) > 0) || (self.operator in ['Exists', 'DoesNotExist'] && (!has(self.values) || size(self.values) == 0))").message("matchExpressions: operator must be In/NotIn with values, or Exists/DoesNotExist without"))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LabelSelectorRequirement {
    /// Label key.
    pub key: String,
    /// In, NotIn, Exists or DoesNotExist.
    pub operator: String,
    /// Values for In and NotIn.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

impl LabelSelector {
    /// The selector as kube-core evaluates it (`kube::core::Selector`); an unknown operator is
    /// an error (validation reports it).
    pub fn to_selector(&self) -> Result<Selector, ParseExpressionError> {
        let requirements = self
            .match_expressions
            .iter()
            .map(|e| k8s::LabelSelectorRequirement {
                key: e.key.clone(),
                operator: e.operator.clone(),
                values: Some(e.values.clone()),
            })
            .collect();
        Selector::try_from(k8s::LabelSelector {
            match_labels: Some(self.match_labels.clone()),
            match_expressions: Some(requirements),
        })
    }

    /// Whether `labels` satisfy the selector; an empty selector matches everything. An unknown
    /// operator matches nothing (validation reports it).
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.to_selector().is_ok_and(|s| s.matches(labels))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn expr(key: &str, operator: &str, values: &[&str]) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.into(),
            operator: operator.into(),
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    #[test]
    fn matches_labels_and_expressions() {
        let node = labels(&[("zone", "a"), ("disk", "ssd")]);
        assert!(LabelSelector::default().matches(&node));
        let sel = |exprs: Vec<LabelSelectorRequirement>| LabelSelector {
            match_labels: labels(&[("zone", "a")]),
            match_expressions: exprs,
        };
        assert!(sel(vec![]).matches(&node));
        assert!(!sel(vec![]).matches(&labels(&[("zone", "b")])));
        assert!(sel(vec![expr("disk", "In", &["ssd", "nvme"])]).matches(&node));
        assert!(!sel(vec![expr("disk", "In", &[])]).matches(&node));
        assert!(!sel(vec![expr("disk", "NotIn", &["ssd"])]).matches(&node));
        assert!(sel(vec![expr("gpu", "NotIn", &["yes"])]).matches(&node));
        assert!(sel(vec![expr("disk", "Exists", &[])]).matches(&node));
        assert!(sel(vec![expr("gpu", "DoesNotExist", &[])]).matches(&node));
        assert!(!sel(vec![expr("disk", "DoesNotExist", &[])]).matches(&node));
        assert!(!sel(vec![expr("disk", "Gt", &["1"])]).matches(&node));
    }
}

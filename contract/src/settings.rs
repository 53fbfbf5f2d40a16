//! `GET` / `PATCH /v1/settings/org`: the org's details and its embedding settings.

use serde::{Deserialize, Serialize};

/// The answer to `GET` and `PATCH /v1/settings/org`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgSettings {
    /// The org's id.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// Contact email for the org (billing and notices); `null` until set.
    pub email: Option<String>,
    /// When the org was created (RFC 3339).
    pub created_at: String,
    /// Who may frame the org's embeds.
    pub embedding: EmbeddingSettings,
}

/// The org's embedding settings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EmbeddingSettings {
    /// Host page origins allowed to frame this org's embeds: exact (`https://app.example.com`) or
    /// subdomain wildcards (`https://*.example.com`). Empty: any page may frame them (each
    /// session may still restrict itself with its own `allowed_origins`, within this list).
    pub allowed_origins: Vec<String>,
}

/// Body of `PATCH /v1/settings/org`: fields left out keep their value.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgSettingsPatch {
    /// New display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New contact email; `null` clears it.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "double_option")]
    pub email: Option<Option<String>>,
    /// New embedding settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding: Option<EmbeddingSettingsPatch>,
}

/// The embedding part of [`OrgSettingsPatch`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbeddingSettingsPatch {
    /// Replaces the list (an empty list lifts the restriction).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_origins: Option<Vec<String>>,
}

/// `Option<Option<T>>` where a present `null` is `Some(None)` and a missing field is `None`.
mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer, T: Serialize>(
        value: &Option<Option<T>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(inner) => inner.serialize(s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patch_tells_missing_from_null() {
        let patch: OrgSettingsPatch = serde_json::from_str(r#"{"email": null}"#).unwrap_or_default();
        assert_eq!(patch.email, Some(None));
        let patch: OrgSettingsPatch = serde_json::from_str(r#"{"name": "Acme"}"#).unwrap_or_default();
        assert_eq!(patch.email, None);
        assert_eq!(patch.name.as_deref(), Some("Acme"));
        let patch: OrgSettingsPatch =
            serde_json::from_str(r#"{"embedding": {"allowed_origins": ["https://a.example"]}}"#)
                .unwrap_or_default();
        assert_eq!(
            patch.embedding.and_then(|e| e.allowed_origins),
            Some(vec!["https://a.example".to_owned()])
        );
        assert!(serde_json::from_str::<OrgSettingsPatch>(r#"{"embeding": {}}"#).is_err());
        assert!(serde_json::from_str::<OrgSettingsPatch>(r#"{"embedding": {"origins": []}}"#).is_err());
    }
}

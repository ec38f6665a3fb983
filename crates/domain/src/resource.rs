//! Function resources of an app group: `raw_file` dictionaries and `feature_generator` definitions.

use std::collections::BTreeMap;
use std::fmt;

use crate::error::{Error, Result};
use crate::function::Function;

/// Largest `Data.Content` of a `raw_file` resource.
pub const MAX_CONTENT_LEN: usize = 4 * 1024 * 1024;
/// Most generators in one `feature_generator` resource.
pub const MAX_GENERATORS: usize = 256;
pub const MAX_RESOURCE_DESCRIPTION_LEN: usize = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceType {
    RawFile,
    FeatureGenerator,
}

impl ResourceType {
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceType::RawFile => "raw_file",
            ResourceType::FeatureGenerator => "feature_generator",
        }
    }

    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "raw_file" => Ok(ResourceType::RawFile),
            "feature_generator" => Ok(ResourceType::FeatureGenerator),
            _ => Err(Error::invalid(format_args!(
                "ResourceType '{s}' is invalid; valid: raw_file, feature_generator."
            ))),
        }
    }
}

impl fmt::Display for ResourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Feature {
    pub name: String,
    #[serde(rename = "type")]
    pub feature_type: String,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Generator {
    pub generator: String,
    pub features: Vec<Feature>,
    pub output: String,
    /// Options of the feature configuration (`method`, `combiner`, `value_dimension`, `sequence_length`); see
    /// [`crate::feature_generator`].
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ResourceData {
    pub content: String,
    pub generators: Vec<Generator>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Resource {
    pub function: Function,
    pub name: String,
    pub resource_type: ResourceType,
    pub description: String,
    pub data: ResourceData,
    pub created_ms: i64,
    pub modified_ms: i64,
    /// Instances of the same app group and function whose parameters name this resource.
    pub referenced_instances: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct NewResource {
    pub name: String,
    pub resource_type: ResourceType,
    pub description: String,
    pub data: ResourceData,
}

/// Checks that `data` fits `resource_type`.
pub fn validate_data(resource_type: ResourceType, data: &ResourceData) -> Result<()> {
    match resource_type {
        ResourceType::RawFile => {
            if !data.generators.is_empty() {
                return Err(Error::invalid(
                    "Data.Generators must be empty for a raw_file resource.",
                ));
            }
            if data.content.len() > MAX_CONTENT_LEN {
                return Err(Error::invalid(format_args!(
                    "Data.Content exceeds {MAX_CONTENT_LEN} bytes."
                )));
            }
        }
        ResourceType::FeatureGenerator => {
            if !data.content.is_empty() {
                return Err(Error::invalid(
                    "Data.Content must be empty for a feature_generator resource.",
                ));
            }
            if data.generators.is_empty() {
                return Err(Error::invalid(
                    "Data.Generators must list at least one generator.",
                ));
            }
            if data.generators.len() > MAX_GENERATORS {
                return Err(Error::invalid(format_args!(
                    "Data.Generators: at most {MAX_GENERATORS} generators."
                )));
            }
            crate::feature_generator::specs(&data.generators).map_err(Error::invalid)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generator(kind: &str, inputs: usize) -> Generator {
        Generator {
            generator: kind.into(),
            features: (0..inputs)
                .map(|i| Feature {
                    name: format!("f{i}"),
                    feature_type: "item".into(),
                })
                .collect(),
            output: "out".into(),
            options: BTreeMap::new(),
        }
    }

    #[test]
    fn raw_files_take_content_only() {
        let ok = ResourceData {
            content: "a\tb\n".into(),
            generators: vec![],
        };
        assert!(validate_data(ResourceType::RawFile, &ok).is_ok());
        let bad = ResourceData {
            content: String::new(),
            generators: vec![generator("id", 1)],
        };
        assert!(validate_data(ResourceType::RawFile, &bad).is_err());
    }

    #[test]
    fn generator_kinds_and_inputs_are_checked() {
        let data = |g| ResourceData {
            content: String::new(),
            generators: vec![g],
        };
        assert!(
            validate_data(
                ResourceType::FeatureGenerator,
                &data(generator("id_feature", 1))
            )
            .is_ok()
        );
        assert!(
            validate_data(ResourceType::FeatureGenerator, &data(generator("combo", 2))).is_ok()
        );
        assert!(
            validate_data(ResourceType::FeatureGenerator, &data(generator("combo", 1))).is_err()
        );
        assert!(
            validate_data(ResourceType::FeatureGenerator, &data(generator("magic", 1))).is_err()
        );
        let mut bad_type = generator("raw", 1);
        bad_type.features[0].feature_type = "shop".into();
        assert!(validate_data(ResourceType::FeatureGenerator, &data(bad_type)).is_err());
        let empty = ResourceData::default();
        assert!(validate_data(ResourceType::FeatureGenerator, &empty).is_err());
    }
}

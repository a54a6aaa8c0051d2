//! The `FilterCriteria` of a function's DynamoDB event source in template.yaml, applied as
//! Lambda applies them: a stream record reaches the function only if one of its patterns
//! matches. The local run filters with the template's own patterns, so a record the template
//! keeps from a function on AWS is kept from it here too.
//!
//! The pattern language is the subset template.yaml uses (Lambda event filtering): nested
//! objects whose leaves are arrays of allowed values — strings, or `{"prefix": "…"}`.

use std::path::Path;

use aws_lambda_events::dynamodb::{Event, EventRecord};
use serde_json::Value;
use serde_yaml::Value as Yaml;

/// The patterns of one function's stream event; no patterns lets every record through.
#[derive(Debug, Clone, Default)]
pub struct StreamFilter {
    patterns: Vec<Value>,
}

impl StreamFilter {
    /// The filters of the DynamoDB event of the function `binary` (its
    /// `Metadata.BuildProperties.Binary`) in the template at `path`.
    pub fn from_template(path: &Path, binary: &str) -> Result<Self, String> {
        let doc: Yaml = crate::read_template(path)?;
        let resources = doc
            .get("Resources")
            .and_then(Yaml::as_mapping)
            .ok_or("template: no Resources")?;
        let function = resources
            .values()
            .find(|r| {
                r.get("Metadata")
                    .and_then(|m| m.get("BuildProperties"))
                    .and_then(|b| b.get("Binary"))
                    .and_then(Yaml::as_str)
                    == Some(binary)
            })
            .ok_or_else(|| format!("template: no function with binary {binary}"))?;
        let mut patterns = Vec::new();
        let events = function
            .get("Properties")
            .and_then(|p| p.get("Events"))
            .and_then(Yaml::as_mapping);
        for event in events.into_iter().flat_map(|e| e.values()) {
            if event.get("Type").and_then(Yaml::as_str) != Some("DynamoDB") {
                continue;
            }
            let filters = event
                .get("Properties")
                .and_then(|p| p.get("FilterCriteria"))
                .and_then(|f| f.get("Filters"))
                .and_then(Yaml::as_sequence);
            for filter in filters.into_iter().flatten() {
                let pattern = filter
                    .get("Pattern")
                    .and_then(Yaml::as_str)
                    .ok_or("template: a filter without a Pattern string")?;
                let pattern: Value = serde_json::from_str(pattern)
                    .map_err(|e| format!("template: filter pattern {pattern}: {e}"))?;
                patterns.push(pattern);
            }
        }
        Ok(StreamFilter { patterns })
    }

    /// Whether Lambda would hand `record` to the function.
    pub fn admits(&self, record: &EventRecord) -> bool {
        if self.patterns.is_empty() {
            return true;
        }
        let Ok(record) = serde_json::to_value(record) else {
            return false;
        };
        self.patterns.iter().any(|p| matches(p, &record))
    }

    /// The batch without the records the function would not be given.
    pub fn apply(&self, mut event: Event) -> Event {
        event.records.retain(|r| self.admits(r));
        event
    }
}

fn matches(pattern: &Value, value: &Value) -> bool {
    match pattern {
        Value::Object(fields) => fields
            .iter()
            .all(|(name, inner)| value.get(name).is_some_and(|v| matches(inner, v))),
        Value::Array(allowed) => allowed.iter().any(|a| match (a, value) {
            (Value::Object(rule), Value::String(s)) => rule
                .get("prefix")
                .and_then(Value::as_str)
                .is_some_and(|p| s.starts_with(p)),
            (a, v) => a == v,
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sample batch's first record as another change of an item with sort key `sk`.
    fn record(event_name: &str, sk: &str) -> EventRecord {
        let mut json = crate::events::load("stream/batch.json")["Records"][0].clone();
        json["eventName"] = event_name.into();
        json["dynamodb"]["Keys"]["SK"]["S"] = sk.into();
        json["dynamodb"]["NewImage"]["SK"]["S"] = sk.into();
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn the_templates_patterns_admit_what_each_function_handles_and_nothing_else() {
        let template = crate::template_path();
        let progress = StreamFilter::from_template(&template, "progress").unwrap();
        for (name, sk) in [
            ("INSERT", "LOG"),
            ("INSERT", "JEVENT"),
            ("INSERT", "POINTS"),
        ] {
            assert!(progress.admits(&record(name, sk)), "{name} {sk}");
        }
        assert!(progress.admits(&record("REMOVE", "MEMBER")));
        for (name, sk) in [
            ("MODIFY", "LOG"),
            ("INSERT", "MEMBER"),
            ("INSERT", "PROGRESS#p#k"),
        ] {
            assert!(!progress.admits(&record(name, sk)), "{name} {sk}");
        }
        let delivery = StreamFilter::from_template(&template, "webhook-delivery").unwrap();
        for sk in ["PROGRESS#p#2026-12-01", "REWARD#m#k", "FINISHED#2026-W49"] {
            assert!(delivery.admits(&record("MODIFY", sk)), "{sk}");
        }
        assert!(delivery.admits(&record("INSERT", "MEMBER")));
        assert!(!delivery.admits(&record("MODIFY", "MEMBER")));
        assert!(!delivery.admits(&record("INSERT", "LOG")));
    }
}

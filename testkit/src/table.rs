//! The table as `template.yaml` declares it: read from the template, created (or brought up to
//! date) on DynamoDB Local, described back for the parity test.

use std::path::Path;
use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction, GlobalSecondaryIndex,
    GlobalSecondaryIndexUpdate, IndexStatus, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, StreamSpecification, StreamViewType, TableStatus,
};
use aws_sdk_dynamodb::Client;
use serde_yaml::Value;

/// (attribute name, key type `HASH`/`RANGE`) pairs, in order.
pub type KeySchema = Vec<(String, String)>;

/// A global secondary index: (name, key schema, projection).
pub type IndexSpec = (String, KeySchema, IndexProjection);

/// An index's projection: its type and, for `INCLUDE`, the non-key attributes (sorted).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct IndexProjection {
    pub kind: String,
    pub attributes: Vec<String>,
}

impl IndexProjection {
    fn new(kind: &str, mut attributes: Vec<String>) -> Self {
        attributes.sort();
        Self {
            kind: kind.to_string(),
            attributes,
        }
    }

    fn to_sdk(&self) -> Projection {
        Projection::builder()
            .projection_type(ProjectionType::from(self.kind.as_str()))
            .set_non_key_attributes((!self.attributes.is_empty()).then(|| self.attributes.clone()))
            .build()
    }
}

/// The table's definition as `template.yaml` declares it (resource `GamifyTable`).
#[derive(Debug, Clone, PartialEq)]
pub struct TableSpec {
    pub attributes: Vec<(String, String)>,
    pub key_schema: KeySchema,
    pub indexes: Vec<IndexSpec>,
    pub stream_view_type: Option<String>,
}

fn str_of<'a>(v: &'a Value, key: &str) -> Result<&'a str, String> {
    v.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("template: missing {key}"))
}

fn keys_of(v: &Value) -> Result<Vec<(String, String)>, String> {
    v.as_sequence()
        .ok_or("template: KeySchema is not a list")?
        .iter()
        .map(|k| {
            Ok((
                str_of(k, "AttributeName")?.to_string(),
                str_of(k, "KeyType")?.to_string(),
            ))
        })
        .collect()
}

impl TableSpec {
    pub fn from_template(path: &Path) -> Result<Self, String> {
        let doc: Value = crate::read_template(path)?;
        let props = doc
            .get("Resources")
            .and_then(|r| r.get("GamifyTable"))
            .and_then(|t| t.get("Properties"))
            .ok_or("template: Resources.GamifyTable.Properties missing")?;
        let attributes = props
            .get("AttributeDefinitions")
            .and_then(Value::as_sequence)
            .ok_or("template: AttributeDefinitions missing")?
            .iter()
            .map(|a| {
                Ok((
                    str_of(a, "AttributeName")?.to_string(),
                    str_of(a, "AttributeType")?.to_string(),
                ))
            })
            .collect::<Result<_, String>>()?;
        let key_schema = keys_of(
            props
                .get("KeySchema")
                .ok_or("template: KeySchema missing")?,
        )?;
        let indexes = match props
            .get("GlobalSecondaryIndexes")
            .and_then(Value::as_sequence)
        {
            None => Vec::new(),
            Some(list) => list
                .iter()
                .map(|g| {
                    Ok((
                        str_of(g, "IndexName")?.to_string(),
                        keys_of(
                            g.get("KeySchema")
                                .ok_or("template: index KeySchema missing")?,
                        )?,
                        {
                            let projection =
                                g.get("Projection").ok_or("template: Projection missing")?;
                            let attributes = projection
                                .get("NonKeyAttributes")
                                .and_then(Value::as_sequence)
                                .map(|names| {
                                    names
                                        .iter()
                                        .filter_map(Value::as_str)
                                        .map(str::to_string)
                                        .collect()
                                })
                                .unwrap_or_default();
                            IndexProjection::new(str_of(projection, "ProjectionType")?, attributes)
                        },
                    ))
                })
                .collect::<Result<_, String>>()?,
        };
        let stream_view_type = props
            .get("StreamSpecification")
            .and_then(|s| s.get("StreamViewType"))
            .and_then(Value::as_str)
            .map(str::to_string);
        Ok(TableSpec {
            attributes,
            key_schema,
            indexes,
            stream_view_type,
        })
    }

    /// The same facts read back from a live table, for comparing with the template.
    pub async fn describe(client: &Client, table: &str) -> Result<Self, String> {
        let t = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| format!("describe {table}: {e:?}"))?
            .table
            .ok_or("describe: no table")?;
        let keys = |ks: &[KeySchemaElement]| {
            ks.iter()
                .map(|k| {
                    (
                        k.attribute_name().to_string(),
                        k.key_type().as_str().to_string(),
                    )
                })
                .collect::<Vec<_>>()
        };
        let mut attributes: Vec<_> = t
            .attribute_definitions()
            .iter()
            .map(|a| {
                (
                    a.attribute_name().to_string(),
                    a.attribute_type().as_str().to_string(),
                )
            })
            .collect();
        attributes.sort();
        let indexes = t
            .global_secondary_indexes()
            .iter()
            .map(|g| {
                (
                    g.index_name().unwrap_or_default().to_string(),
                    keys(g.key_schema()),
                    IndexProjection::new(
                        g.projection()
                            .and_then(|p| p.projection_type())
                            .map(|p| p.as_str())
                            .unwrap_or_default(),
                        g.projection()
                            .map(|p| p.non_key_attributes().to_vec())
                            .unwrap_or_default(),
                    ),
                )
            })
            .collect();
        let stream_view_type = t
            .stream_specification()
            .filter(|s| s.stream_enabled())
            .and_then(|s| s.stream_view_type())
            .map(|v| v.as_str().to_string());
        Ok(TableSpec {
            attributes,
            key_schema: keys(t.key_schema()),
            indexes,
            stream_view_type,
        })
    }

    /// Creates the table if it does not exist (or adds the indexes an older local table lacks),
    /// and waits until it is active.
    pub async fn ensure(&self, client: &Client, table: &str) -> Result<(), String> {
        if client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .is_ok()
        {
            return self.add_missing_indexes(client, table).await;
        }
        let key = |(name, kind): &(String, String)| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(KeyType::from(kind.as_str()))
                .build()
                .map_err(|e| e.to_string())
        };
        let mut create = client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest);
        for (name, kind) in &self.attributes {
            create = create.attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(name)
                    .attribute_type(ScalarAttributeType::from(kind.as_str()))
                    .build()
                    .map_err(|e| e.to_string())?,
            );
        }
        for k in &self.key_schema {
            create = create.key_schema(key(k)?);
        }
        for (name, keys, projection) in &self.indexes {
            let mut gsi = GlobalSecondaryIndex::builder()
                .index_name(name)
                .projection(projection.to_sdk());
            for k in keys {
                gsi = gsi.key_schema(key(k)?);
            }
            create = create.global_secondary_indexes(gsi.build().map_err(|e| e.to_string())?);
        }
        if let Some(view) = &self.stream_view_type {
            create = create.stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::from(view.as_str()))
                    .build()
                    .map_err(|e| e.to_string())?,
            );
        }
        create
            .send()
            .await
            .map_err(|e| format!("create table {table}: {e:?}"))?;
        wait_until_active(client, table).await
    }
}

/// Until the table and every index on it are active: DynamoDB (and DynamoDB Local) takes one
/// index change at a time and refuses the next while one is building.
async fn wait_until_active(client: &Client, table: &str) -> Result<(), String> {
    for _ in 0..200 {
        let description = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .ok()
            .and_then(|d| d.table);
        if let Some(t) = description {
            let indexes_active = t
                .global_secondary_indexes()
                .iter()
                .all(|i| i.index_status() == Some(&IndexStatus::Active));
            if t.table_status == Some(TableStatus::Active) && indexes_active {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!("table {table} did not become active"))
}

impl TableSpec {
    fn attribute_definition(&self, name: &str) -> Result<AttributeDefinition, String> {
        let kind = self
            .attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, k)| k.as_str())
            .ok_or_else(|| format!("template: attribute {name} is not defined"))?;
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::from(kind))
            .build()
            .map_err(|e| e.to_string())
    }

    /// The local run keeps its data across starts; when the template gains an index, the table
    /// gets it too (DynamoDB builds one index per update).
    async fn add_missing_indexes(&self, client: &Client, table: &str) -> Result<(), String> {
        let existing = TableSpec::describe(client, table).await?;
        for (name, keys, projection) in &self.indexes {
            if existing.indexes.iter().any(|(n, _, _)| n == name) {
                continue;
            }
            let mut create = CreateGlobalSecondaryIndexAction::builder()
                .index_name(name)
                .projection(projection.to_sdk());
            let mut update = client.update_table().table_name(table);
            for (attr, kind) in keys {
                create = create.key_schema(
                    KeySchemaElement::builder()
                        .attribute_name(attr)
                        .key_type(KeyType::from(kind.as_str()))
                        .build()
                        .map_err(|e| e.to_string())?,
                );
                update = update.attribute_definitions(self.attribute_definition(attr)?);
            }
            update
                .global_secondary_index_updates(
                    GlobalSecondaryIndexUpdate::builder()
                        .create(create.build().map_err(|e| e.to_string())?)
                        .build(),
                )
                .send()
                .await
                .map_err(|e| format!("add index {name} to {table}: {e:?}"))?;
            println!("Added index {name} to table {table} (declared in template.yaml)");
            wait_until_active(client, table).await?;
        }
        Ok(())
    }
}

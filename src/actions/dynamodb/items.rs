//! `dynamodb.put_item` (a game day's injected damage) and `dynamodb.assert_item` (the exact
//! item a recovery must bring back). Values are written in the runbook as strings; key
//! attributes take their type from the table's key schema, other attributes from `types`.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ScalarAttributeType, TableDescription};
use chrono::Utc;
use serde_json::json;

use super::{SVC, aws_error, client, describe_table, finding, not_found, rfc3339, spec};
use crate::actions::{Action, ActionError, ActionSpec, Observation, Outcome, StepContext};

/// A table's key attributes and their scalar types, from DescribeTable.
pub(super) fn key_schema(desc: &TableDescription) -> Vec<(String, ScalarAttributeType)> {
    desc.key_schema()
        .iter()
        .map(|k| {
            let name = k.attribute_name().to_string();
            let ty = desc
                .attribute_definitions()
                .iter()
                .find(|d| d.attribute_name() == name)
                .map(|d| d.attribute_type().clone())
                .unwrap_or(ScalarAttributeType::S);
            (name, ty)
        })
        .collect()
}

fn invalid(message: String, hint: &str) -> ActionError {
    ActionError::Invalid {
        message,
        hint: hint.into(),
    }
}

/// `value` as an attribute of type `ty` (S, N, B, BOOL).
pub(super) fn attribute(name: &str, value: &str, ty: &str) -> Result<AttributeValue, ActionError> {
    match ty {
        "S" => Ok(AttributeValue::S(value.to_string())),
        "N" if value.trim().parse::<f64>().is_ok() => Ok(AttributeValue::N(value.trim().into())),
        "B" => Ok(AttributeValue::B(value.as_bytes().to_vec().into())),
        "BOOL" => match value.trim() {
            "true" => Ok(AttributeValue::Bool(true)),
            "false" => Ok(AttributeValue::Bool(false)),
            _ => Err(invalid(
                format!(
                    "attribute `{name}` is BOOL, so its value must be `true` or `false`, not `{value}`"
                ),
                "check the step's `item` and `types`",
            )),
        },
        "N" => Err(invalid(
            format!("attribute `{name}` is a number (N), not `{value}`"),
            "check the step's `item`, `key` and `types`",
        )),
        other => Err(invalid(
            format!("attribute `{name}` has type `{other}`; drillbook writes S, N, B and BOOL"),
            "use one of S, N, B, BOOL in `types`",
        )),
    }
}

/// An attribute as the runbook would write it, for comparison and reports.
pub(super) fn text(v: &AttributeValue) -> String {
    match v {
        AttributeValue::S(s) | AttributeValue::N(s) => s.clone(),
        AttributeValue::Bool(b) => b.to_string(),
        AttributeValue::Null(_) => "null".into(),
        AttributeValue::B(b) => String::from_utf8_lossy(b.as_ref()).into_owned(),
        other => format!("{other:?}"),
    }
}

/// Whether an item's attribute has the value written in the runbook (numbers compare as numbers).
fn same(got: &AttributeValue, want: &str) -> bool {
    match got {
        AttributeValue::N(n) => match (n.parse::<f64>(), want.trim().parse::<f64>()) {
            (Ok(a), Ok(b)) => a == b,
            _ => n == want,
        },
        _ => text(got) == want,
    }
}

/// The key of an item, typed by the table's key schema; every key attribute must be given.
fn typed_key(
    table: &str,
    desc: &TableDescription,
    values: &BTreeMap<String, String>,
) -> Result<HashMap<String, AttributeValue>, ActionError> {
    key_schema(desc)
        .into_iter()
        .map(|(name, ty)| {
            let v = values.get(&name).ok_or_else(|| {
                invalid(
                    format!("the key of `{table}` needs attribute `{name}`"),
                    "give every key attribute of the table (its partition key, and sort key if it has one)",
                )
            })?;
            Ok((name.clone(), attribute(&name, v, ty.as_str())?))
        })
        .collect()
}

fn describe_key(key: &BTreeMap<String, String>) -> String {
    key.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

async fn get_item(
    c: &Client,
    region: &str,
    table: &str,
    key: HashMap<String, AttributeValue>,
) -> Result<Option<HashMap<String, AttributeValue>>, ActionError> {
    c.get_item()
        .table_name(table)
        .set_key(Some(key))
        .consistent_read(true)
        .send()
        .await
        .map(|out| out.item)
        .map_err(|e| aws_error(SVC, "GetItem", region, e))
}

// ------------------------------------------------------------------------- put_item

/// The item to write, typed, and the subset of it that is the key.
struct Wanted {
    item: HashMap<String, AttributeValue>,
    key: HashMap<String, AttributeValue>,
    key_text: String,
}

fn wanted(ctx: &StepContext, table: &str, desc: &TableDescription) -> Result<Wanted, ActionError> {
    let values = ctx.params.str_map("item")?;
    let types = ctx.params.str_map("types")?;
    let keys = key_schema(desc);
    let key = typed_key(table, desc, &values)?;
    let mut item = key.clone();
    for (name, value) in &values {
        if keys.iter().any(|(k, _)| k == name) {
            continue;
        }
        let ty = types.get(name).map(String::as_str).unwrap_or("S");
        item.insert(name.clone(), attribute(name, value, ty)?);
    }
    let key_values: BTreeMap<String, String> = keys
        .iter()
        .filter_map(|(k, _)| values.get(k).map(|v| (k.clone(), v.clone())))
        .collect();
    Ok(Wanted {
        item,
        key,
        key_text: describe_key(&key_values),
    })
}

pub(super) struct PutItem;

#[async_trait::async_trait]
impl Action for PutItem {
    fn spec(&self) -> &'static ActionSpec {
        spec("dynamodb.put_item")
    }

    async fn observe(&self, ctx: &StepContext) -> Result<Observation, ActionError> {
        let table = ctx.params.str("table")?;
        let (c, region) = client(ctx)?;
        let mut obs = Observation::default();
        obs.facts.insert("table".into(), json!(table));
        let Some(desc) = describe_table(&c, &region, &table).await? else {
            obs.summary = format!("table `{table}` not found in {region}");
            obs.findings.push(not_found(&table, &region));
            return Ok(obs);
        };
        let w = wanted(ctx, &table, &desc)?;
        obs.facts.insert("key".into(), json!(w.key_text));
        let current = get_item(&c, &region, &table, w.key.clone()).await?;
        if current.as_ref() == Some(&w.item) {
            obs.summary = format!(
                "`{table}` already holds the item ({}); nothing to do",
                w.key_text
            );
        } else {
            obs.summary = format!(
                "`{table}` in {region} {} the item ({})",
                if current.is_some() {
                    "holds another version of"
                } else {
                    "lacks"
                },
                w.key_text
            );
            obs.changes.push(format!(
                "write the item ({}) to `{table}` in {region}",
                w.key_text
            ));
        }
        Ok(obs)
    }

    async fn apply(&self, ctx: &StepContext, _: &Observation) -> Result<Outcome, ActionError> {
        let table = ctx.params.str("table")?;
        let (c, region) = client(ctx)?;
        let Some(desc) = describe_table(&c, &region, &table).await? else {
            return Err(ActionError::Precondition {
                findings: vec![not_found(&table, &region)],
            });
        };
        let w = wanted(ctx, &table, &desc)?;
        let written_at = rfc3339(Utc::now());
        c.put_item()
            .table_name(&table)
            .set_item(Some(w.item))
            .send()
            .await
            .map_err(|e| aws_error(SVC, "PutItem", &region, e))?;
        Ok(Outcome {
            summary: format!(
                "wrote the item ({}) to `{table}` at {written_at}",
                w.key_text
            ),
            changes: vec![format!(
                "wrote the item ({}) to `{table}` in {region}",
                w.key_text
            )],
            outputs: BTreeMap::from([("written_at".to_string(), written_at)]),
        })
    }

    async fn verify(&self, ctx: &StepContext, _: &Outcome) -> Result<(), ActionError> {
        let table = ctx.params.str("table")?;
        let (c, region) = client(ctx)?;
        let Some(desc) = describe_table(&c, &region, &table).await? else {
            return Err(ActionError::Verification {
                message: format!("`{table}` not found in {region}"),
                hint: "check the table name and the step's region".into(),
            });
        };
        let w = wanted(ctx, &table, &desc)?;
        match get_item(&c, &region, &table, w.key).await? {
            Some(item) if item == w.item => Ok(()),
            _ => Err(ActionError::Verification {
                message: format!(
                    "`{table}` does not hold the item ({}) as written",
                    w.key_text
                ),
                hint: "another writer changed it meanwhile; run the step again".into(),
            }),
        }
    }
}

// ------------------------------------------------------------------------- assert_item

pub(super) struct AssertItem;

#[async_trait::async_trait]
impl Action for AssertItem {
    fn spec(&self) -> &'static ActionSpec {
        spec("dynamodb.assert_item")
    }

    async fn observe(&self, ctx: &StepContext) -> Result<Observation, ActionError> {
        let table = ctx.params.str("table")?;
        let key_values = ctx.params.str_map("key")?;
        let expect = ctx.params.str_map("expect")?;
        let absent = ctx.params.bool_or("absent", false)?;
        let (c, region) = client(ctx)?;
        let mut obs = Observation::default();
        let key_text = describe_key(&key_values);
        obs.facts.insert("table".into(), json!(table));
        obs.facts.insert("key".into(), json!(key_text));
        let Some(desc) = describe_table(&c, &region, &table).await? else {
            obs.summary = format!("table `{table}` not found in {region}");
            obs.findings.push(not_found(&table, &region));
            return Ok(obs);
        };
        let key = typed_key(&table, &desc, &key_values)?;
        let item = get_item(&c, &region, &table, key).await?;
        obs.outputs
            .insert("found".into(), item.is_some().to_string());
        match (item, absent) {
            (None, true) => {
                obs.summary =
                    format!("`{table}` in {region} holds no item ({key_text}), as expected");
            }
            (Some(_), true) => {
                obs.summary = format!("`{table}` in {region} holds the item ({key_text})");
                obs.findings.push(finding(
                    format!("`{table}` in {region} holds the item ({key_text}), which must be absent"),
                    "the recovery did not remove it: check the restore point (`restore_to`) and which table the step reads",
                ));
            }
            (None, false) => {
                obs.summary = format!("`{table}` in {region} holds no item ({key_text})");
                obs.findings.push(finding(
                    format!("`{table}` in {region} has no item ({key_text})"),
                    "check the key, the table and the restore point",
                ));
            }
            (Some(item), false) => {
                let wrong: Vec<String> = expect
                    .iter()
                    .filter_map(|(name, want)| match item.get(name) {
                        Some(got) if same(got, want) => None,
                        Some(got) => {
                            Some(format!("`{name}` is `{}`, expected `{want}`", text(got)))
                        }
                        None => Some(format!("`{name}` is missing, expected `{want}`")),
                    })
                    .collect();
                for name in expect.keys() {
                    if let Some(got) = item.get(name) {
                        obs.facts
                            .insert(format!("attribute:{name}"), json!(text(got)));
                    }
                }
                if wrong.is_empty() {
                    obs.summary = format!(
                        "`{table}` in {region} holds the item ({key_text}) with the {} expected attribute(s)",
                        expect.len()
                    );
                } else {
                    obs.summary = format!("`{table}` in {region}: the item ({key_text}) differs");
                    obs.findings.push(finding(
                        format!("the item ({key_text}) in `{table}`: {}", wrong.join("; ")),
                        "the data is not what the recovery must bring back: check the restore point and the table the step reads",
                    ));
                }
            }
        }
        Ok(obs)
    }

    async fn verify(&self, _: &StepContext, outcome: &Outcome) -> Result<(), ActionError> {
        if outcome.outputs.contains_key("found") {
            Ok(())
        } else {
            Err(ActionError::Verification {
                message: "the item was not read".into(),
                hint: "run the step again".into(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_typed_and_compared_as_written() {
        assert_eq!(
            attribute("a", "x", "S").unwrap(),
            AttributeValue::S("x".into())
        );
        assert_eq!(
            attribute("n", " 7 ", "N").unwrap(),
            AttributeValue::N("7".into())
        );
        assert!(attribute("n", "seven", "N").is_err());
        assert_eq!(
            attribute("b", "true", "BOOL").unwrap(),
            AttributeValue::Bool(true)
        );
        assert!(attribute("b", "yes", "BOOL").is_err());
        assert!(attribute("x", "1", "SS").is_err());
        assert!(same(&AttributeValue::N("7.0".into()), "7"));
        assert!(!same(&AttributeValue::N("7".into()), "8"));
        assert!(same(&AttributeValue::S("x".into()), "x"));
        assert!(same(&AttributeValue::Bool(false), "false"));
    }
}

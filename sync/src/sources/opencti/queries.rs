//! The GraphQL documents the client sends, per query shape (opencti.md §6, §12).
//!
//! One root field per document (6.1+ rejects a root field used more than
//! twice), no nested connections on bulk pages (each costs one search per
//! node: `based-on` comes from the relationships instead), no introspection.
//! Every document is validated against the saved 5.12.23 and 6.9 schemas by
//! the tests (`sync/tests/opencti_queries.rs`).

use serde_json::{json, Value};

use super::version::Shape;

/// What a page lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Entity {
    Indicators,
    Observables,
    Relationships,
}

impl Entity {
    pub const ALL: [Entity; 3] = [
        Entity::Indicators,
        Entity::Observables,
        Entity::Relationships,
    ];

    /// Used in state keys (`watermark.indicators`) and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Entity::Indicators => "indicators",
            Entity::Observables => "observables",
            Entity::Relationships => "relationships",
        }
    }

    /// The root field of the page queries.
    pub fn root_field(self) -> &'static str {
        match self {
            Entity::Indicators => "indicators",
            Entity::Observables => "stixCyberObservables",
            Entity::Relationships => "stixCoreRelationships",
        }
    }
}

/// Version detection; `about` carries `@auth`, so it also checks the token.
pub const ABOUT: &str = "query About { about { version } }";

/// Relationship types stored: `based-on` links indicators to observables,
/// `resolves-to` and `related-to` make the "related" hit (opencti.md §10).
pub const RELATIONSHIP_TYPES: [&str; 3] = ["based-on", "resolves-to", "related-to"];

/// `objectLabel { … }` / `objectMarking { … }` in the shape of the server.
fn listed(shape: Shape, field: &str, inner: &str) -> String {
    match shape {
        Shape::Lists => format!("{field} {{ {inner} }}"),
        Shape::Edges => format!("{field} {{ edges {{ node {{ {inner} }} }} }}"),
    }
}

/// The page query of `entity`, ordered by `updated_at` ascending.
pub fn page(entity: Entity, shape: Shape) -> String {
    let labels = listed(shape, "objectLabel", "value");
    let markings = listed(shape, "objectMarking", "definition_type definition");
    let node = match entity {
        Entity::Indicators => format!(
            "id standard_id entity_type name description pattern pattern_type \
             valid_from valid_until revoked x_opencti_score x_opencti_detection \
             x_opencti_main_observable_type indicator_types confidence created modified \
             created_at updated_at {labels} {markings} createdBy {{ id name }}"
        ),
        Entity::Observables => format!(
            "id standard_id entity_type observable_value x_opencti_score created_at updated_at \
             {labels} {markings} createdBy {{ id name }} \
             ... on StixFile {{ name hashes {{ algorithm hash }} }} \
             ... on Artifact {{ hashes {{ algorithm hash }} }} \
             ... on X509Certificate {{ hashes {{ algorithm hash }} }} \
             ... on WindowsRegistryKey {{ attribute_key }}"
        ),
        Entity::Relationships => "id standard_id relationship_type fromId fromType toId toType \
             confidence revoked start_time stop_time created_at updated_at"
            .to_string(),
    };
    let (name, root) = match entity {
        Entity::Indicators => ("IndicatorsPage", "indicators"),
        Entity::Observables => ("ObservablesPage", "stixCyberObservables"),
        Entity::Relationships => ("RelationshipsPage", "stixCoreRelationships"),
    };
    format!(
        "query {name}($first: Int!, $after: ID, $filters: FilterGroup) {{ \
         {root}(first: $first, after: $after, orderBy: updated_at, orderMode: asc, \
         filters: $filters) {{ pageInfo {{ endCursor hasNextPage globalCount }} \
         edges {{ node {{ {node} }} }} }} }}"
    )
}

/// Ids only, for reconciliation (same in every version; default order).
pub fn ids(entity: Entity) -> String {
    let name = match entity {
        Entity::Indicators => "IndicatorIds",
        Entity::Observables => "ObservableIds",
        Entity::Relationships => "RelationshipIds",
    };
    format!(
        "query {name}($first: Int!, $after: ID, $filters: FilterGroup) {{ \
         {root}(first: $first, after: $after, filters: $filters) {{ \
         pageInfo {{ endCursor hasNextPage globalCount }} edges {{ node {{ id }} }} }} }}",
        root = entity.root_field()
    )
}

/// A filter on one key; values are strings (5.12.0 takes `[String!]!`).
fn filter(key: &str, operator: &str, values: &[&str]) -> Value {
    json!({"key": [key], "operator": operator, "values": values, "mode": "or"})
}

/// The `filters` variable of a page: `updated_at gte since` when incremental,
/// the relationship types for relationships; `None` when nothing filters.
/// Never `revoked = false`: a revocation must be seen (opencti.md §5).
pub fn page_filters(entity: Entity, since: Option<&str>) -> Option<Value> {
    let mut filters = Vec::new();
    if entity == Entity::Relationships {
        filters.push(filter("relationship_type", "eq", &RELATIONSHIP_TYPES));
    }
    if let Some(since) = since {
        filters.push(filter("updated_at", "gte", &[since]));
    }
    group(filters)
}

/// The `filters` of the id listing: relationships of the stored types only.
pub fn id_filters(entity: Entity) -> Option<Value> {
    page_filters(entity, None)
}

fn group(filters: Vec<Value>) -> Option<Value> {
    (!filters.is_empty()).then(|| json!({"mode": "and", "filters": filters, "filterGroups": []}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_differ_only_in_labels_and_markings() {
        let lists = page(Entity::Indicators, Shape::Lists);
        let edges = page(Entity::Indicators, Shape::Edges);
        assert!(lists.contains("objectLabel { value }"), "{lists}");
        assert!(
            edges.contains("objectLabel { edges { node { value } } }"),
            "{edges}"
        );
        assert_eq!(
            page(Entity::Relationships, Shape::Lists),
            page(Entity::Relationships, Shape::Edges)
        );
    }

    #[test]
    fn incremental_filter_is_a_filter_group() {
        let f = page_filters(Entity::Indicators, Some("2024-05-01T00:00:00.000Z")).unwrap();
        assert_eq!(
            f,
            json!({"mode": "and", "filterGroups": [], "filters": [
                {"key": ["updated_at"], "operator": "gte",
                 "values": ["2024-05-01T00:00:00.000Z"], "mode": "or"}]})
        );
        assert_eq!(page_filters(Entity::Observables, None), None);
        let rels = page_filters(Entity::Relationships, None).unwrap();
        assert_eq!(rels["filters"][0]["values"], json!(RELATIONSHIP_TYPES));
    }
}

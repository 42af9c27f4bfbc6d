//! Every GraphQL document the OpenCTI client sends, validated with
//! apollo-compiler against the saved real schemas: each shape's queries pass
//! on the versions that use it and fail on the others, so an edit cannot
//! silently break one version range (opencti.md §13).

#[path = "support/opencti_server.rs"]
mod opencti_server;

use opencti_server::{schema_dir, validate, Play};
use store::sources::opencti::{id_query, page_query, Entity, Shape, ABOUT};

fn all_for(shape: Shape) -> Vec<(String, String)> {
    let mut out = vec![("About".to_string(), ABOUT.to_string())];
    for e in Entity::ALL {
        out.push((format!("{} page", e.as_str()), page_query(e, shape)));
        out.push((format!("{} ids", e.as_str()), id_query(e)));
    }
    out
}

#[test]
fn list_shape_queries_fit_7_and_6_9_and_edges_shape_queries_fit_5_12_23() {
    for (play, shape) in [
        (Play::V7, Shape::Lists),
        (Play::V6_9, Shape::Lists),
        (Play::V5_12_23, Shape::Edges),
    ] {
        for (what, q) in all_for(shape) {
            if let Err(e) = validate(play, &q) {
                panic!("{what} ({shape:?}) invalid on {}: {e}\n{q}", play.version());
            }
        }
    }
}

#[test]
fn each_shape_fails_on_the_other_range() {
    for (play, shape) in [
        (Play::V5_12_23, Shape::Lists),
        (Play::V6_9, Shape::Edges),
        (Play::V7, Shape::Edges),
    ] {
        for e in [Entity::Indicators, Entity::Observables] {
            let err = validate(play, &page_query(e, shape))
                .expect_err("a shape must not fit the other version range");
            let expected = match shape {
                Shape::Lists => "LabelConnection",
                Shape::Edges => "`Label` does not have a field `edges`",
            };
            assert!(err.contains(expected), "{}: {err}", play.version());
        }
    }
}

#[test]
fn list_shape_queries_also_fit_5_12_33() {
    let path = schema_dir().join("relay.schema-5.12.33.graphql");
    let sdl = std::fs::read_to_string(&path).unwrap();
    let schema = apollo_compiler::Schema::parse_and_validate(sdl, &path).unwrap();
    for (what, q) in all_for(Shape::Lists) {
        apollo_compiler::ExecutableDocument::parse_and_validate(&schema, &q, "q.graphql")
            .unwrap_or_else(|e| panic!("{what} invalid on 5.12.33: {}", e.errors));
    }
}

#[test]
fn the_stand_in_answers_an_invalid_query_like_opencti() {
    let err = validate(
        Play::V6_9,
        "query { indicators { edges { node { nonsense } } } }",
    )
    .unwrap_err();
    assert!(err.contains("nonsense"), "{err}");
}

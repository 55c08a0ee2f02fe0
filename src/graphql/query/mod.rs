//! Query roots, one per area, merged into [`Query`].

mod viewer;

use async_graphql::MergedObject;

#[derive(MergedObject, Default)]
pub struct Query(viewer::ViewerQuery);

//! Query roots, one per area, merged into [`Query`].

mod account;
mod message;
mod viewer;

use async_graphql::MergedObject;

#[derive(MergedObject, Default)]
pub struct Query(
    viewer::ViewerQuery,
    account::AccountQuery,
    message::MessageQuery,
);

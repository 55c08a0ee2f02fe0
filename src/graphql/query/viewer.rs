use async_graphql::{Context, Object, Result};
use entity::{member, workspace};
use sea_orm::{DatabaseConnection, EntityTrait};

use crate::{
    auth::Principal,
    error::AppError,
    graphql::object::{Member, Workspace},
};

#[derive(Default)]
pub struct ViewerQuery;

/// The caller: the member a token acts for, and its workspace.
pub struct Viewer {
    member: member::Model,
    workspace: workspace::Model,
}

#[Object]
impl Viewer {
    async fn member(&self) -> Member {
        Member(self.member.clone())
    }

    async fn workspace(&self) -> Workspace {
        Workspace(self.workspace.clone())
    }
}

#[Object]
impl ViewerQuery {
    /// Who the request acts as; null without a valid token.
    async fn viewer(&self, ctx: &Context<'_>) -> Result<Option<Viewer>> {
        let Some(principal) = ctx.data_opt::<Principal>() else {
            return Ok(None);
        };
        let db = ctx.data::<DatabaseConnection>()?;
        let found = member::Entity::find_by_id(principal.member_id)
            .find_also_related(workspace::Entity)
            .one(db)
            .await
            .map_err(AppError::from)?;
        Ok(match found {
            Some((member, Some(workspace))) if workspace.id == principal.workspace_id => {
                Some(Viewer { member, workspace })
            }
            _ => None,
        })
    }
}

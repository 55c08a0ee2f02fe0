use async_graphql::{Context, Object, Result};
use entity::{WorkspaceScoped, member, workspace};
use sea_orm::DatabaseConnection;

use crate::{
    error::AppError,
    graphql::{
        guard::{SignedIn, principal},
        object::{Member, Workspace},
    },
};

#[derive(Default)]
pub struct ViewerQuery;

/// The caller: the member a credential acts for, and its workspace.
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
    /// Who the request acts as.
    #[graphql(guard = "SignedIn")]
    async fn viewer(&self, ctx: &Context<'_>) -> Result<Viewer> {
        let principal = principal(ctx)?;
        let db = ctx.data::<DatabaseConnection>()?;
        let (member, workspace) =
            member::Entity::find_by_id_in_workspace(principal.workspace_id, principal.member_id)
                .find_also_related(workspace::Entity)
                .one(db)
                .await
                .map_err(AppError::from)?
                .and_then(|(member, workspace)| Some((member, workspace?)))
                .ok_or_else(|| AppError::not_found("member"))?;
        Ok(Viewer { member, workspace })
    }
}

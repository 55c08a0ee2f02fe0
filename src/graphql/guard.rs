//! Field guards: who may resolve a field. Errors carry the contract's codes.

use async_graphql::{Context, Guard, Result};

use crate::{
    auth::{Principal, Scope, extract::missing_token},
    error::AppError,
};

/// The request's principal, or `missing_bearer_token`.
pub fn principal<'a>(ctx: &Context<'a>) -> Result<&'a Principal, AppError> {
    ctx.data_opt::<Principal>().ok_or_else(missing_token)
}

/// Any valid credential.
pub struct SignedIn;

impl Guard for SignedIn {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        principal(ctx)?;
        Ok(())
    }
}

/// A credential whose effective scopes include this one.
pub struct RequireScope(pub Scope);

impl Guard for RequireScope {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        principal(ctx)?.require_scope(self.0)?;
        Ok(())
    }
}

/// A credential with at least one of these scopes.
pub struct RequireAnyScope(pub &'static [Scope]);

impl Guard for RequireAnyScope {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        principal(ctx)?.require_any_scope(self.0)?;
        Ok(())
    }
}

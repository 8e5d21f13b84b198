//! Single sign-on and directories: which provider or directory account is
//! which Ventanilla account (`user_identities`, by the provider's stable
//! subject or the directory entry's id), the sign-ins
//! under way (`sso_requests`: state, nonce and PKCE verifier, bound to the
//! browser that began it, used once) and the one-time hand-offs that give
//! the console its tokens after the provider sent the person back.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum UserIdentities {
    Table,
    Provider,
    Subject,
    UserId,
    Email,
    Dn,
    LeftAt,
    CreatedAt,
    LastSignInAt,
}

#[derive(DeriveIden)]
enum SsoRequests {
    Table,
    StateHash,
    Provider,
    BrowserHash,
    Nonce,
    Verifier,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum SsoHandoffs {
    Table,
    CodeHash,
    UserId,
    Method,
    Ip,
    UserAgent,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(UserIdentities::Table)
                .col(ColumnDef::new(UserIdentities::Provider).string_len(30).not_null())
                .col(ColumnDef::new(UserIdentities::Subject).string_len(255).not_null())
                .col(ColumnDef::new(UserIdentities::UserId).uuid().not_null())
                .col(ColumnDef::new(UserIdentities::Email).string_len(320).null())
                // A directory's entry (what a password sign-in binds as).
                .col(ColumnDef::new(UserIdentities::Dn).text().null())
                // When a directory stopped listing the person (or granting
                // them anything): their account was deactivated then, and is
                // brought back if they return.
                .col(ColumnDef::new(UserIdentities::LeftAt).timestamp_with_time_zone().null())
                .col(ColumnDef::new(UserIdentities::CreatedAt).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(UserIdentities::LastSignInAt).timestamp_with_time_zone().not_null())
                .primary_key(Index::create().col(UserIdentities::Provider).col(UserIdentities::Subject))
                .foreign_key(
                    ForeignKey::create()
                        .from(UserIdentities::Table, UserIdentities::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("user_identities_by_user")
                .table(UserIdentities::Table)
                .col(UserIdentities::UserId)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(SsoRequests::Table)
                // SHA-256 of the `state` sent to the provider.
                .col(ColumnDef::new(SsoRequests::StateHash).string_len(64).not_null().primary_key())
                .col(ColumnDef::new(SsoRequests::Provider).string_len(30).not_null())
                // SHA-256 of the cookie the browser that began it holds.
                .col(ColumnDef::new(SsoRequests::BrowserHash).string_len(64).not_null())
                .col(ColumnDef::new(SsoRequests::Nonce).string_len(64).not_null())
                .col(ColumnDef::new(SsoRequests::Verifier).string_len(64).not_null())
                .col(ColumnDef::new(SsoRequests::ExpiresAt).timestamp_with_time_zone().not_null())
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(SsoHandoffs::Table)
                .col(ColumnDef::new(SsoHandoffs::CodeHash).string_len(64).not_null().primary_key())
                .col(ColumnDef::new(SsoHandoffs::UserId).uuid().not_null())
                .col(ColumnDef::new(SsoHandoffs::Method).string_len(40).not_null())
                .col(ColumnDef::new(SsoHandoffs::Ip).string_len(64).null())
                .col(ColumnDef::new(SsoHandoffs::UserAgent).string_len(300).null())
                .col(ColumnDef::new(SsoHandoffs::ExpiresAt).timestamp_with_time_zone().not_null())
                .foreign_key(
                    ForeignKey::create()
                        .from(SsoHandoffs::Table, SsoHandoffs::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [SsoHandoffs::Table.into_iden(), SsoRequests::Table.into_iden(), UserIdentities::Table.into_iden()]
        {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

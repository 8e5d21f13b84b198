//! Two-factor sign-in for local accounts (a sealed TOTP secret per user and
//! single-use recovery codes, stored hashed) and sign-in sessions: one per
//! refresh-token family, with how and from where it began, so a person can
//! see where they are signed in and end any or all of it.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum TwoFactor {
    Table,
    UserId,
    Secret,
    ConfirmedAt,
    LastStep,
    CreatedAt,
}

#[derive(DeriveIden)]
enum RecoveryCodes {
    Table,
    Id,
    UserId,
    CodeHash,
    UsedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    UserId,
    Method,
    Ip,
    UserAgent,
    StartedAt,
    LastSeenAt,
    EndedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

fn user_key(table: impl IntoIden, column: impl IntoIden) -> ForeignKeyCreateStatement {
    ForeignKey::create().from(table, column).to(Users::Table, Users::Id).on_delete(ForeignKeyAction::Cascade).to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(TwoFactor::Table)
                .col(ColumnDef::new(TwoFactor::UserId).uuid().not_null().primary_key())
                // Sealed with the secrets key (never stored or logged in clear).
                .col(ColumnDef::new(TwoFactor::Secret).text().not_null())
                // Null while the person has not yet proved their app reads it.
                .col(ColumnDef::new(TwoFactor::ConfirmedAt).timestamp_with_time_zone().null())
                // The last 30-second step whose code was accepted: a code works once.
                .col(ColumnDef::new(TwoFactor::LastStep).big_integer().null())
                .col(ColumnDef::new(TwoFactor::CreatedAt).timestamp_with_time_zone().not_null())
                .foreign_key(&mut user_key(TwoFactor::Table, TwoFactor::UserId))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(RecoveryCodes::Table)
                .col(ColumnDef::new(RecoveryCodes::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(RecoveryCodes::UserId).uuid().not_null())
                .col(ColumnDef::new(RecoveryCodes::CodeHash).string_len(64).not_null())
                .col(ColumnDef::new(RecoveryCodes::UsedAt).timestamp_with_time_zone().null())
                .col(ColumnDef::new(RecoveryCodes::CreatedAt).timestamp_with_time_zone().not_null())
                .foreign_key(&mut user_key(RecoveryCodes::Table, RecoveryCodes::UserId))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("recovery_codes_by_user")
                .table(RecoveryCodes::Table)
                .col(RecoveryCodes::UserId)
                .col(RecoveryCodes::CodeHash)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Sessions::Table)
                // The refresh-token family's id.
                .col(ColumnDef::new(Sessions::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(Sessions::UserId).uuid().not_null())
                // password, password+totp, password+recovery_code
                .col(ColumnDef::new(Sessions::Method).string_len(40).not_null())
                .col(ColumnDef::new(Sessions::Ip).string_len(64).null())
                .col(ColumnDef::new(Sessions::UserAgent).string_len(300).null())
                .col(ColumnDef::new(Sessions::StartedAt).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(Sessions::LastSeenAt).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(Sessions::EndedAt).timestamp_with_time_zone().null())
                .foreign_key(&mut user_key(Sessions::Table, Sessions::UserId))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("sessions_by_user")
                .table(Sessions::Table)
                .col(Sessions::UserId)
                .col(Sessions::EndedAt)
                .to_owned(),
        )
        .await?;
        // Sessions begun before this version: one per live refresh-token family.
        m.get_connection()
            .execute_unprepared(
                "INSERT INTO sessions (id, user_id, method, started_at, last_seen_at) \
                 SELECT family_id, user_id, 'password', MIN(created_at), MAX(created_at) FROM refresh_tokens \
                 WHERE revoked_at IS NULL GROUP BY family_id, user_id",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Sessions::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(RecoveryCodes::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(TwoFactor::Table).to_owned()).await
    }
}

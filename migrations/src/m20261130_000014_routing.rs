//! Routing: each unit's assignment settings (mode, capacity per channel,
//! what happens to an agent's cases when they go offline), each agent's
//! presence and own capacity, and — on SQLite, where one instance serves
//! every console — the live events consoles are sent, in commit order.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Units {
    Table,
    Routing,
}

#[derive(DeriveIden)]
enum Agents {
    Table,
    UserId,
    Presence,
    PresenceSince,
    PresenceAuto,
    LastSeenAt,
    LastAssignedAt,
    Capacity,
}

#[derive(DeriveIden)]
enum LiveEvents {
    Table,
    Id,
    Payload,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter().table(Units::Table).add_column(ColumnDef::new(Units::Routing).json().null()).to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Agents::Table)
                .col(ColumnDef::new(Agents::UserId).uuid().not_null().primary_key())
                .col(ColumnDef::new(Agents::Presence).string_len(16).not_null())
                .col(ColumnDef::new(Agents::PresenceSince).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(Agents::PresenceAuto).boolean().not_null().default(false))
                .col(ColumnDef::new(Agents::LastSeenAt).timestamp_with_time_zone().null())
                .col(ColumnDef::new(Agents::LastAssignedAt).timestamp_with_time_zone().null())
                .col(ColumnDef::new(Agents::Capacity).json().null())
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(LiveEvents::Table)
                .col(ColumnDef::new(LiveEvents::Id).big_integer().not_null().auto_increment().primary_key())
                .col(ColumnDef::new(LiveEvents::Payload).text().not_null())
                .col(ColumnDef::new(LiveEvents::CreatedAt).timestamp_with_time_zone().not_null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_live_events_created")
                .table(LiveEvents::Table)
                .col(LiveEvents::CreatedAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(LiveEvents::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(Agents::Table).to_owned()).await?;
        m.alter_table(Table::alter().table(Units::Table).drop_column(Units::Routing).to_owned()).await
    }
}

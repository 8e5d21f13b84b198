//! Event subscriptions (outbound webhooks) and the log of every delivery:
//! what was sent, how often it was tried, what the receiver answered.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WebhookSubscriptions {
    Table,
    Id,
    Name,
    Url,
    Secret,
    Events,
    UnitIds,
    Active,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    Id,
    SubscriptionId,
    EventId,
    EventType,
    CaseId,
    Payload,
    Status,
    Attempts,
    ResponseStatus,
    LastError,
    CreatedAt,
    LastAttemptAt,
    DeliveredAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(WebhookSubscriptions::Table)
                .col(ColumnDef::new(WebhookSubscriptions::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(WebhookSubscriptions::Name).string_len(100).not_null())
                .col(ColumnDef::new(WebhookSubscriptions::Url).text().not_null())
                .col(ColumnDef::new(WebhookSubscriptions::Secret).text().not_null())
                .col(ColumnDef::new(WebhookSubscriptions::Events).json().not_null())
                .col(ColumnDef::new(WebhookSubscriptions::UnitIds).json().null())
                .col(ColumnDef::new(WebhookSubscriptions::Active).boolean().not_null())
                .col(ColumnDef::new(WebhookSubscriptions::CreatedBy).uuid().null())
                .col(ColumnDef::new(WebhookSubscriptions::CreatedAt).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(WebhookSubscriptions::UpdatedAt).timestamp_with_time_zone().not_null())
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(WebhookDeliveries::Table)
                .col(ColumnDef::new(WebhookDeliveries::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(WebhookDeliveries::SubscriptionId).uuid().not_null())
                .col(ColumnDef::new(WebhookDeliveries::EventId).uuid().not_null())
                .col(ColumnDef::new(WebhookDeliveries::EventType).string_len(40).not_null())
                .col(ColumnDef::new(WebhookDeliveries::CaseId).uuid().null())
                .col(ColumnDef::new(WebhookDeliveries::Payload).json().not_null())
                .col(ColumnDef::new(WebhookDeliveries::Status).string_len(20).not_null())
                .col(ColumnDef::new(WebhookDeliveries::Attempts).integer().not_null().default(0))
                .col(ColumnDef::new(WebhookDeliveries::ResponseStatus).integer().null())
                .col(ColumnDef::new(WebhookDeliveries::LastError).text().null())
                .col(ColumnDef::new(WebhookDeliveries::CreatedAt).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(WebhookDeliveries::LastAttemptAt).timestamp_with_time_zone().null())
                .col(ColumnDef::new(WebhookDeliveries::DeliveredAt).timestamp_with_time_zone().null())
                .to_owned(),
        )
        .await?;
        // A subscription's log, newest first, and its dead letters.
        m.create_index(
            Index::create()
                .name("ix_webhook_deliveries_subscription")
                .table(WebhookDeliveries::Table)
                .col(WebhookDeliveries::SubscriptionId)
                .col(WebhookDeliveries::Status)
                .col(WebhookDeliveries::CreatedAt)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(WebhookDeliveries::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(WebhookSubscriptions::Table).to_owned()).await
    }
}

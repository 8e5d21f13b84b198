//! Campaigns: a message sent to a segment's people through one channel
//! account, each person's send a recipient row (the job walks them in
//! contact order, so a restart continues where it was); and each unit's
//! outreach settings (the hours campaigns may send in).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Campaigns {
    Table,
    Id,
    UnitId,
    Name,
    SegmentId,
    Purpose,
    ChannelInstallId,
    Channel,
    Message,
    StartsAt,
    MaxPerSecond,
    Status,
    ExpandedAfter,
    Expanded,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
    LaunchedAt,
    FinishedAt,
}

#[derive(DeriveIden)]
enum CampaignRecipients {
    Table,
    CampaignId,
    ContactId,
    Status,
    Reason,
    Address,
    ConsentId,
    ProviderMessageId,
    ReplyCaseId,
    SentAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Units {
    Table,
    Id,
    Outreach,
}

#[derive(DeriveIden)]
enum Segments {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Contacts {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Campaigns::Table)
                .col(ColumnDef::new(Campaigns::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(Campaigns::UnitId).uuid().not_null())
                .col(ColumnDef::new(Campaigns::Name).string_len(120).not_null())
                .col(ColumnDef::new(Campaigns::SegmentId).uuid().not_null())
                .col(ColumnDef::new(Campaigns::Purpose).string_len(64).not_null())
                .col(ColumnDef::new(Campaigns::ChannelInstallId).uuid().not_null())
                .col(ColumnDef::new(Campaigns::Channel).string_len(20).not_null())
                .col(ColumnDef::new(Campaigns::Message).json().not_null())
                .col(ColumnDef::new(Campaigns::StartsAt).timestamp_with_time_zone().null())
                .col(ColumnDef::new(Campaigns::MaxPerSecond).integer().null())
                .col(ColumnDef::new(Campaigns::Status).string_len(20).not_null())
                .col(ColumnDef::new(Campaigns::ExpandedAfter).uuid().null())
                .col(ColumnDef::new(Campaigns::Expanded).boolean().not_null().default(false))
                .col(ColumnDef::new(Campaigns::CreatedBy).uuid().null())
                .col(ColumnDef::new(Campaigns::CreatedAt).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(Campaigns::UpdatedAt).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(Campaigns::LaunchedAt).timestamp_with_time_zone().null())
                .col(ColumnDef::new(Campaigns::FinishedAt).timestamp_with_time_zone().null())
                .foreign_key(ForeignKey::create().from(Campaigns::Table, Campaigns::UnitId).to(Units::Table, Units::Id))
                // A segment in use is not removed from under its campaigns.
                .foreign_key(
                    ForeignKey::create().from(Campaigns::Table, Campaigns::SegmentId).to(Segments::Table, Segments::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("ix_campaigns_unit").table(Campaigns::Table).col(Campaigns::UnitId).to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("ix_campaigns_segment").table(Campaigns::Table).col(Campaigns::SegmentId).to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(CampaignRecipients::Table)
                .col(ColumnDef::new(CampaignRecipients::CampaignId).uuid().not_null())
                .col(ColumnDef::new(CampaignRecipients::ContactId).uuid().not_null())
                .col(ColumnDef::new(CampaignRecipients::Status).string_len(20).not_null())
                .col(ColumnDef::new(CampaignRecipients::Reason).text().null())
                .col(ColumnDef::new(CampaignRecipients::Address).string_len(320).null())
                .col(ColumnDef::new(CampaignRecipients::ConsentId).uuid().null())
                .col(ColumnDef::new(CampaignRecipients::ProviderMessageId).string_len(255).null())
                .col(ColumnDef::new(CampaignRecipients::ReplyCaseId).uuid().null())
                .col(ColumnDef::new(CampaignRecipients::SentAt).timestamp_with_time_zone().null())
                .col(ColumnDef::new(CampaignRecipients::UpdatedAt).timestamp_with_time_zone().not_null())
                .primary_key(Index::create().col(CampaignRecipients::CampaignId).col(CampaignRecipients::ContactId))
                .foreign_key(
                    ForeignKey::create()
                        .from(CampaignRecipients::Table, CampaignRecipients::CampaignId)
                        .to(Campaigns::Table, Campaigns::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(CampaignRecipients::Table, CampaignRecipients::ContactId)
                        .to(Contacts::Table, Contacts::Id),
                )
                .to_owned(),
        )
        .await?;
        // The next people to send to, and the counts per status.
        m.create_index(
            Index::create()
                .name("ix_campaign_recipients_status")
                .table(CampaignRecipients::Table)
                .col(CampaignRecipients::CampaignId)
                .col(CampaignRecipients::Status)
                .col(CampaignRecipients::ContactId)
                .to_owned(),
        )
        .await?;
        // A provider's delivery report names its message id.
        m.create_index(
            Index::create()
                .name("ix_campaign_recipients_provider")
                .table(CampaignRecipients::Table)
                .col(CampaignRecipients::ProviderMessageId)
                .to_owned(),
        )
        .await?;
        // A person's answer finds the campaign they answer.
        m.create_index(
            Index::create()
                .name("ix_campaign_recipients_contact")
                .table(CampaignRecipients::Table)
                .col(CampaignRecipients::ContactId)
                .col(CampaignRecipients::SentAt)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter().table(Units::Table).add_column(ColumnDef::new(Units::Outreach).json().null()).to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Units::Table).drop_column(Units::Outreach).to_owned()).await?;
        m.drop_table(Table::drop().table(CampaignRecipients::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(Campaigns::Table).to_owned()).await
    }
}
